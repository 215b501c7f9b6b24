import EnchargeRules
import RecordSources

extension RuleEngine {
    /// Maps one record as an input produced it; a malformed one fails with the input's message.
    func map(_ body: InputRecordBody, source: String) -> RecordOutcome {
        switch body {
        case .json(let bytes): map(json: bytes, source: source)
        case .value(let value): map(value: value, source: source)
        case .malformed(let message, _): .failed(message: "\(source): \(message)", traceback: nil)
        }
    }
}
