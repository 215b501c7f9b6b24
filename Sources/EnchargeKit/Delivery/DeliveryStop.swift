/// Why a delivery engine stopped sending on its own: a cause no retry can fix and that holds for
/// every event, so sending the rest would only turn each of them into a dead letter. Once stopped,
/// an engine sends nothing more: events on the wire finish, and every other event (those submitted
/// later too) is settled with an error of the matching kind, dead-lettered in submit order, or
/// reported to `onSettled` as `.interrupted` (so a spool keeps it pending).
public enum DeliveryStop: Sendable, Hashable, CustomStringConvertible {
    /// `refusalsBeforeStop` answers in a row were 401 or 403 (the status of the last one), with no
    /// 2xx between them.
    case writeKeyRefused(status: Int)
    /// The endpoint answered with a redirect that is not followed: to another scheme, host or port
    /// (the write key would go with it), or a 301/302/303 (which would turn the POST into a GET).
    /// `location` is the absolute URL it redirects to.
    case redirected(status: Int, location: String)

    /// What happened, for a dead-letter reason: `the Ingest API refused the write key (HTTP 401)`.
    public var description: String {
        switch self {
        case .writeKeyRefused(let status): "the Ingest API refused the write key (HTTP \(status))"
        case .redirected(_, let location): "the endpoint redirects to \(location); pass that as --endpoint"
        }
    }

    /// What happened and what to do, for a person: the refusal names where the key came from
    /// (`writeKeySource`, such as `ENCHARGE_WRITE_KEY`).
    public func message(writeKeySource: String) -> String {
        switch self {
        case .writeKeyRefused: "\(description); check \(writeKeySource)"
        case .redirected: description
        }
    }

    /// The error every event left behind by this stop is settled with (an event that was sent also
    /// gets the status and body of its own last answer).
    var error: DeliveryError {
        switch self {
        case .writeKeyRefused: DeliveryError(kind: .writeKeyRefused, message: description)
        case .redirected: DeliveryError(kind: .redirected, message: description)
        }
    }
}
