/// Nicks and room names: `^[A-Za-z0-9_.-]{1,32}$` (DESIGN.md). Being plain ASCII, a valid
/// name is safe as an AMQP routing-key word sequence and in a queue name.
public enum ChatName {
    /// The most characters a nick or a room name may have.
    public static let maxLength = 32
    /// The room a session enters when `join` names none, and where `say` goes without `room`.
    public static let lobby = "lobby"

    /// True when `name` is a valid nick or room name.
    public static func isValid(_ name: String) -> Bool {
        var count = 0
        for byte in name.utf8 {
            count += 1
            if count > maxLength { return false }
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
                continue
            default:
                return false
            }
        }
        return count > 0
    }
}
