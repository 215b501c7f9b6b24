import Glibc
import SystemKit
import Testing

@Suite struct OutputWriterTests {
    @Test("a buffer keeps every write in order and splits lines")
    func bufferKeepsText() {
        let buffer = OutputBuffer()
        #expect(buffer.text == "" && buffer.lines == [])
        buffer.write("one\n")
        buffer.write("two")
        buffer.write(" halves\n\n")
        #expect(buffer.text == "one\ntwo halves\n\n")
        #expect(buffer.lines == ["one", "two halves", ""])
    }

    @Test("lines written from many threads at once never interleave")
    func concurrentLinesStayWhole() throws {
        let buffer = OutputBuffer()
        let writer: any OutputWriter = buffer
        let line = String(repeating: "x", count: 1000)
        var threads: [JoinableThread] = []
        for index in 0..<8 {
            threads.append(
                try JoinableThread {
                    for _ in 0..<200 { writer.write("\(index) \(line)\n") }
                })
        }
        for thread in threads { thread.join() }
        let lines = buffer.lines
        #expect(lines.count == 8 * 200)
        for index in 0..<8 {
            #expect(lines.filter { $0 == "\(index) \(line)" }.count == 200)
        }
    }

    @Test("a descriptor writer writes each text whole to its descriptor")
    func descriptorWriter() throws {
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        let (thread, reader) = try FileDescriptorTests.drain(ends[0])
        let writer: any OutputWriter = FileDescriptorWriter(FileDescriptor(rawValue: ends[1]))
        let big = String(repeating: "y", count: 200_000)
        writer.write("first\n")
        writer.write(big + "\n")
        close(ends[1])
        thread.join()
        close(ends[0])
        #expect(String(decoding: reader.bytes, as: UTF8.self) == "first\n" + big + "\n")
    }

    @Test("the standard writers point at descriptors 1 and 2")
    func standardWriters() {
        let output: FileDescriptorWriter = .standardOutput
        let error: FileDescriptorWriter = .standardError
        #expect(output.descriptor == .standardOutput && output.descriptor.rawValue == 1)
        #expect(error.descriptor == .standardError && error.descriptor.rawValue == 2)
    }
}
