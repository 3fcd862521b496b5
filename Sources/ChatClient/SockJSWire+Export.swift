/// The SockJS frames and JSON this client reads and writes are `SockJSWire`'s, the codec the
/// server uses too; they are part of this library's API (``SockJSClientStateMachine`` takes
/// ``SockJSFrame``s), so users of `ChatClient` see them without importing `SockJSWire`.
@_exported import SockJSWire
