/// Thrown after `--drop-rate` closed the connection: there is no one left to answer, and
/// Hummingbird's attempt to write its generic 500 fails on the closed channel.
struct MockIngestConnectionDropped: Error {}
