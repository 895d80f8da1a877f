import Foundation
import PairgateTestSupport
import Testing
import Webhooks
import WAWire

/// Event ids are UUIDv7 written as TypeIDs.
@Suite struct EventIDTests {
    /// The TypeID specification's valid vectors, with our prefix.
    @Test(arguments: [
        ("evt_00000000000000000000000000", "00000000-0000-0000-0000-000000000000"),
        ("evt_00000000000000000000000001", "00000000-0000-0000-0000-000000000001"),
        ("evt_0000000000000000000000000g", "00000000-0000-0000-0000-000000000010"),
        ("evt_7zzzzzzzzzzzzzzzzzzzzzzzzz", "ffffffff-ffff-ffff-ffff-ffffffffffff"),
        ("evt_0123456789abcdefghjkmnpqrs", "0110c853-1d09-52d8-d73e-1194e95b5f19"),
        ("evt_01h455vb4pex5vsknk084sn02q", "01890a5d-ac96-774b-bcce-b302099a8057"),
    ])
    func textFormMatchesTheTypeIDVectors(text: String, uuid: String) throws {
        let id = try #require(EventID(text))
        #expect(id.uuid == UUID(uuidString: uuid))
        #expect(EventID(uuid: try #require(UUID(uuidString: uuid))).description == text)
    }

    @Test(arguments: [
        "", "evt_", "evt_8zzzzzzzzzzzzzzzzzzzzzzzzz", "evt_01h455vb4pex5vsknk084sn02", "evt_01h455vb4pex5vsknk084sn02qq",
        "evt_01H455VB4PEX5VSKNK084SN02Q", "evt_01h455vb4pex5vsknk084sn0iq", "msg_01h455vb4pex5vsknk084sn02q", "01h455vb4pex5vsknk084sn02q",
    ])
    func malformedTextIsRefused(text: String) {
        #expect(EventID(text) == nil)
    }

    @Test func generatedIDsAreVersion7CarryTheirTimeAndSortByIt() throws {
        var random = SeededRandom(seed: 11)
        let start = Date(timeIntervalSince1970: 1_777_777_777.123)
        let ids = (0..<100).map { EventID.generate(now: start.addingTimeInterval(Double($0)), using: &random) }
        for (offset, id) in ids.enumerated() {
            let bytes = withUnsafeBytes(of: id.uuid.uuid) { Array($0) }
            #expect(bytes[6] >> 4 == 7)
            #expect(bytes[8] >> 6 == 0b10)
            #expect(id.date == Date(timeIntervalSince1970: 1_777_777_777.123 + Double(offset)))
            #expect(id.description.count == 30)
            #expect(!id.description.contains("."))
            #expect(EventID(id.description) == id)
        }
        #expect(ids.sorted() == ids)
        #expect(ids.map(\.description).sorted() == ids.map(\.description))
        #expect(Set(ids).count == ids.count)
    }

    @Test func idsMintedInTheSameMillisecondDiffer() {
        var random = SeededRandom(seed: 12)
        let now = Date(timeIntervalSince1970: 1_777_777_777)
        let ids = (0..<1000).map { _ in EventID.generate(now: now, using: &random) }
        #expect(Set(ids).count == 1000)
    }
}
