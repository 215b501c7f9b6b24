import SystemKit
import TestSupport
import Testing

@Suite struct FileReaderTests {
    @Test("a file comes back byte for byte, across several read chunks")
    func readsWholeFile() throws {
        let scratch = try TemporaryDirectory(prefix: "systemkit")
        defer { scratch.cleanup() }
        let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let path = try scratch.write("data.bin", bytes: bytes)
        #expect(try FileReader.read(path) == bytes)
        #expect(try FileReader.read(try scratch.write("empty", bytes: [])) == [])
    }

    @Test("a file over the cap is refused with its path and the cap in MiB")
    func sizeCap() throws {
        let scratch = try TemporaryDirectory(prefix: "systemkit")
        defer { scratch.cleanup() }
        let limit = 1 << 20
        let atLimit = try scratch.write("at.bin", bytes: [UInt8](repeating: 7, count: limit))
        #expect(try FileReader.read(atLimit, limit: limit).count == limit)
        let over = try scratch.write("over.bin", bytes: [UInt8](repeating: 7, count: limit + 1))
        let error = #expect(throws: FileReadError.self) { try FileReader.read(over, limit: limit) }
        #expect(error?.kind == .tooLarge(limit: limit))
        #expect(error?.description == "\(over) is larger than 1 MiB")
        #expect(FileReader.sizeLimit == 64 << 20)
    }

    @Test("a missing file's message names the path, the reason and what to check")
    func missingFile() throws {
        let scratch = try TemporaryDirectory(prefix: "systemkit")
        defer { scratch.cleanup() }
        let missing = scratch.path + "/missing.lua"
        let error = #expect(throws: FileReadError.self) { try FileReader.read(missing) }
        #expect(error?.description == "cannot open \(missing): No such file or directory; check the input path")
    }

    @Test("a directory is refused with a message that says to give a file")
    func directory() throws {
        let scratch = try TemporaryDirectory(prefix: "systemkit")
        defer { scratch.cleanup() }
        let error = #expect(throws: FileReadError.self) { try FileReader.read(scratch.path) }
        #expect(error?.kind == .directory)
        #expect(error?.description == "cannot read \(scratch.path): it is a directory; give a file")
    }
}
