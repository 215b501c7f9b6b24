import Foundation

/// An `encharge-lua deliver` process started in the test's directory without `ENCHARGE_ENDPOINT`
/// from the test's environment, once it printed its start line.
public enum DeliverProcess {
    /// Starts `encharge-lua deliver ARGUMENTS` and waits (up to 30 s) for the line
    /// `encharge-lua deliver: delivering SPOOL (...)`; throws, with what it printed, if none came.
    public static func start(
        _ arguments: [String], in directory: TemporaryDirectory, environment: [String: String]
    ) throws -> RunningBinary {
        let worker = try Binary.launch(
            ["deliver"] + arguments, environment: environment, removing: ["ENCHARGE_ENDPOINT"],
            directory: directory.path)
        guard worker.waitForLine(where: { $0.hasPrefix("encharge-lua deliver: delivering ") }) != nil else {
            worker.kill9()
            throw CocoaError(
                .fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "deliver did not start: \(worker.output)"])
        }
        return worker
    }
}
