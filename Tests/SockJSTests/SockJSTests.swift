// SockJSTests
