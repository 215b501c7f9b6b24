import Glibc
import SystemKit
import Testing

@Suite struct FileReaderTests {
    @Test("a file comes back byte for byte, across several read chunks")
    func readsWholeFile() throws {
        let scratch = try ScratchDirectory()
        let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let path = try scratch.file("data.bin", bytes)
        #expect(try FileReader.read(path) == bytes)
        #expect(try FileReader.read(try scratch.file("empty", [])) == [])
    }

    @Test("a file over the cap is refused with its path and the cap in MiB")
    func sizeCap() throws {
        let scratch = try ScratchDirectory()
        let limit = 1 << 20
        let atLimit = try scratch.file("at.bin", [UInt8](repeating: 7, count: limit))
        #expect(try FileReader.read(atLimit, limit: limit).count == limit)
        let over = try scratch.file("over.bin", [UInt8](repeating: 7, count: limit + 1))
        let error = #expect(throws: FileReadError.self) { try FileReader.read(over, limit: limit) }
        #expect(error?.kind == .tooLarge(limit: limit))
        #expect(error?.description == "\(over) is larger than 1 MiB")
        #expect(FileReader.sizeLimit == 64 << 20)
    }

    @Test("a missing file's message names the path, the reason and what to check")
    func missingFile() throws {
        let scratch = try ScratchDirectory()
        let missing = scratch.path + "/missing.lua"
        let error = #expect(throws: FileReadError.self) { try FileReader.read(missing) }
        #expect(error?.description == "cannot open \(missing): No such file or directory; check the input path")
    }

    @Test("a directory is refused with a message that says to give a file")
    func directory() throws {
        let scratch = try ScratchDirectory()
        let error = #expect(throws: FileReadError.self) { try FileReader.read(scratch.path) }
        #expect(error?.kind == .directory)
        #expect(error?.description == "cannot read \(scratch.path): it is a directory; give a file")
    }
}
