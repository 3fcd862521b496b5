// The Chat target; its issue brings the code.
