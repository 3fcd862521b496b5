// The SockJS target; its issue brings the code.
