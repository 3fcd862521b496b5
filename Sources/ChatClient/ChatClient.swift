// The ChatClient target; its issue brings the code.
