/// Something odd in an event that validation normalized instead of refusing, because the Ingest
/// API accepts it. The rule engine counts these and reports each kind once per run.
public enum EventWarning: Sendable, Equatable {
    /// A tag in a list held a comma. It was sent as written, and Encharge splits it into two tags.
    case tagWithComma
    /// `user.ip` or `sourceIp` (`field`) held `value`, which is not an IP address; it was left out
    /// of the event, since it only fills in the person's country and time zone.
    case droppedAddress(field: String, value: String)
    /// A custom field spelt like a member with a meaning (`userid` for `userId`): sent as a custom
    /// field, which is rarely what was meant.
    case reservedKeyCase(key: String, expected: String)
}
