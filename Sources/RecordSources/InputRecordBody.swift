import JSONKit

/// One record an input produced.
package enum InputRecordBody {
    /// Raw JSON bytes, valid only during the callback.
    case json(UnsafeRawBufferPointer)
    /// An already-built record (CSV rows).
    case value(JSONValue)
    /// Input that is not a record, with a message and the raw text for the dead-letter entry.
    case malformed(message: String, raw: String)
}
