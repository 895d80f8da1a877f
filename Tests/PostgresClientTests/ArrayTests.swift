import Foundation
import PairgateTestSupport
import PostgresClient
import Testing

@Suite("PostgreSQL arrays", .requiresDatabase)
struct ArrayTests {
    @Test func everyArrayTypeRoundTripsInBinary() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            let ids = [UUID(), UUID(), UUID()]
            let texts = ["a", "zürich ✓", ""]
            let numbers: [Int64] = [.min, 0, .max]
            let blobs: [[UInt8]] = [[0, 1, 2, 0], [], [255]]
            let row = try await pool.query(
                "SELECT $1::uuid[], $2::text[], $3::int8[], $4::bytea[], cardinality($1), $2[2], $3[3], $4[1]",
                [PostgresArray(ids), PostgresArray(texts), PostgresArray(numbers), PostgresArray(blobs)]
            )[0]
            #expect(try row.decode(0, as: PostgresArray<UUID>.self).elements == ids)
            #expect(try row.decode(1, as: PostgresArray<String>.self).elements == texts)
            #expect(try row.decode(2, as: PostgresArray<Int64>.self).elements == numbers)
            #expect(try row.decode(3, as: PostgresArray<[UInt8]>.self).elements == blobs)
            // The server read the elements, not only echoed the bytes.
            #expect(try row.decode(4, as: Int.self) == 3)
            #expect(try row.decode(5, as: String.self) == "zürich ✓")
            #expect(try row.decode(6, as: Int64.self) == .max)
            #expect(try row.decode(7, as: [UInt8].self) == [0, 1, 2, 0])
            await pool.close()
        }
    }

    @Test func emptyArraysRoundTripForEveryType() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            let row = try await pool.query(
                "SELECT $1::uuid[], $2::text[], $3::int8[], $4::bytea[], cardinality($1) + cardinality($2) + cardinality($3) + cardinality($4)",
                [PostgresArray<UUID>([]), PostgresArray<String>([]), PostgresArray<Int>([]), PostgresArray<[UInt8]>([])]
            )[0]
            #expect(try row.decode(0, as: PostgresArray<UUID>.self).elements.isEmpty)
            #expect(try row.decode(1, as: PostgresArray<String>.self).elements.isEmpty)
            #expect(try row.decode(2, as: PostgresArray<Int>.self).elements.isEmpty)
            #expect(try row.decode(3, as: PostgresArray<[UInt8]>.self).elements.isEmpty)
            #expect(try row.decode(4, as: Int.self) == 0)
            let built = try await pool.query("SELECT '{}'::uuid[], ARRAY[1, 2]::int8[]")[0]
            #expect(try built.decode(0, as: PostgresArray<UUID>.self).elements.isEmpty)
            #expect(try built.decode(1, as: PostgresArray<Int>.self).elements == [1, 2])
            await pool.close()
        }
    }

    @Test func arraysDriveSetOperationsOnTheServer() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            let ids = (0..<500).map { _ in UUID() }
            let row = try await pool.query(
                "SELECT count(*), bool_and(id = ANY($1)) FROM unnest($1::uuid[], $2::int8[]) AS t(id, n) WHERE n % 2 = 0",
                [PostgresArray(ids), PostgresArray(Array(0..<500))]
            )[0]
            #expect(try row.decode(0, as: Int.self) == 250)
            #expect(try row.decode(1, as: Bool.self))
            await pool.close()
        }
    }

    @Test func aNullElementIsRefusedWithADecodingError() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            let row = try await pool.query("SELECT ARRAY[1, NULL, 3]::int8[], ARRAY[NULL]::text[]")[0]
            let numbers = #expect(throws: PostgresError.self) { try row.decode(0, as: PostgresArray<Int64>.self) }
            #expect(numbers?.code == .decoding)
            let texts = #expect(throws: PostgresError.self) { try row.decode(1, as: PostgresArray<String>.self) }
            #expect(texts?.code == .decoding)
            await pool.close()
        }
    }

    @Test func arraysOfAnotherShapeOrTypeAreRefused() async throws {
        try await TestDatabase.with { database in
            let pool = database.pool()
            let row = try await pool.query("SELECT ARRAY[[1, 2], [3, 4]]::int8[], ARRAY[1]::int4[], 'x'::text")[0]
            for (column, reason) in [(0, "two dimensions"), (1, "int4[] is not int8[]"), (2, "text is no array")] {
                let error = #expect(throws: PostgresError.self, "\(reason)") { try row.decode(column, as: PostgresArray<Int64>.self) }
                #expect(error?.code == .decoding)
            }
            await pool.close()
        }
    }
}

/// The array decoder reads bytes from the server: malformed ones end in a decoding error, never
/// a crash, a trap or an allocation by a length it was told.
@Suite struct ArrayFuzzTests {
    /// Whether `bytes` decode, or fail with a decoding error (anything else is a finding).
    private static func decodesOrFailsCleanly<Element: PostgresArrayElement>(_ bytes: [UInt8], as type: Element.Type) -> Bool {
        bytes.withUnsafeBytes { raw in
            do {
                _ = try PostgresArray<Element>(postgresBytes: raw, oid: Element.postgresArrayOID, column: "fuzz")
                return true
            } catch let error as PostgresError {
                return error.code == .decoding
            } catch {
                return false
            }
        }
    }

    @Test func everyByteOfValidArraysMutatedAndTruncatedDecodesOrFailsCleanly() {
        let uuids = PostgresArray((0..<8).map { UUID(uuid: (UInt8($0), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)) }).postgresValue.bytes!
        let texts = PostgresArray(["", "a", "zürich ✓", "NULL", "{}", "x,y"]).postgresValue.bytes!
        let numbers = PostgresArray<Int64>([.min, -1, 0, 1, 42, .max]).postgresValue.bytes!
        let blobs = PostgresArray<[UInt8]>([[], [0], [255, 254], [1, 2, 3], [0xFF, 0xFF, 0xFF, 0xFF], Array(repeating: 7, count: 9)]).postgresValue.bytes!
        // Lengths and counts that point past the end, at the end, or far beyond memory.
        let words: [[UInt8]] = [[0, 0, 0, 0], [0xFF, 0xFF, 0xFF, 0xFF], [0x7F, 0xFF, 0xFF, 0xFF], [0x80, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 2], [0, 0, 0x10, 0]]
        var inputs = 0
        var findings: [[UInt8]] = []
        func fuzz<Element: PostgresArrayElement>(_ valid: [UInt8], as type: Element.Type) {
            func check(_ input: [UInt8]) {
                inputs += 1
                if !Self.decodesOrFailsCleanly(input, as: type) { findings.append(input) }
            }
            for offset in valid.indices {
                for value in 0...255 {
                    var mutant = valid
                    mutant[offset] = UInt8(value)
                    check(mutant)
                }
                for word in words where offset + 4 <= valid.count {
                    var mutant = valid
                    mutant.replaceSubrange(offset..<(offset + 4), with: word)
                    check(mutant)
                }
                check(Array(valid[..<offset]))
                check(valid + valid[..<offset])
            }
        }
        fuzz(uuids, as: UUID.self)
        fuzz(texts, as: String.self)
        fuzz(numbers, as: Int64.self)
        fuzz(blobs, as: [UInt8].self)
        #expect(inputs >= 100_000)
        #expect(findings.isEmpty, "first: \(findings.first ?? [])")
    }
}
