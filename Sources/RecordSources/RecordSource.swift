/// One way of splitting an input into records: `JSONLinesReader`, `JSONArrayReader`,
/// `CSVReader`. Each streams over a `ChunkedFile` in bounded memory.
protocol RecordSource {
    /// Calls `body(record, n)` for each record in order until it returns false; what `n` counts
    /// (a line, a data row, an array index) is the source's own, see `RecordReader.source(_:)`.
    mutating func forEach(_ body: (InputRecordBody, Int) throws -> Bool) throws
}
