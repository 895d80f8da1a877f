import Foundation
import Messaging
import PairgateTestSupport
@testable import PairgateApp
import Signal
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `pairgate link`'s Signal state file keeps the pool store's contract: what a commit wrote comes
/// back after a restart, a commit is all or nothing, a consumed prekey is refused twice, a message
/// is kept once, retry prekeys are counted; the file is the owner's alone and never half written.
@Suite struct LinkProtocolStoreTests {
    static let ann = SignalAddress(name: "123456789012345_1", device: 0)
    static let group = SenderKeyID(group: "120363@g.us", sender: SignalAddress(name: "543210987654321_1", device: 2))

    static func message(_ id: String) -> InboxMessage {
        InboxMessage(
            key: InboxKey(chat: "123456789012345@lid", sender: "123456789012345@lid", messageID: id),
            sentAt: Date(timeIntervalSince1970: 1_760_000_000), type: "text", text: "hi", raw: [0x0A, 0x02, 0x68, 0x69], fromMe: false
        )
    }

    static func request() -> StateRequest {
        var request = StateRequest()
        request.addresses = [ann]
        request.senderKeys = [group]
        request.phoneNumbers = ["15551234567"]
        request.oneTimePreKeys = [17, 18]
        request.inbox = [message("M1").key, message("M2").key]
        return request
    }

    private func withPath(_ body: (String) async throws -> Void) async throws {
        let path = TestEnvironment.scratchDirectory + "/link-store-\(UUID().uuidString.prefix(8)).json.signal"
        defer { unlink(path) }
        try await body(path)
    }

    @Test func whatIsCommittedComesBackAfterARestartFromAFileOnlyTheOwnerReads() async throws {
        try await withPath { path in
            let store = try LinkProtocolStore(path: path)
            var changes = ProtocolChanges()
            changes.sessions = [Self.ann: [1, 2, 3]]
            changes.identities = [Self.ann: [UInt8](repeating: 7, count: 32)]
            changes.senderKeys = [Self.group: [4, 5]]
            changes.consumedPreKeys = [17]
            changes.lidMappings = [.init(phoneNumber: "15551234567", lid: "123456789012345")]
            changes.message = Self.message("M1")
            changes.reservesRetryPreKey = true
            #expect(try await store.commit(changes).retryPreKeySequence == 0)

            let reopened = try LinkProtocolStore(path: path)
            let state = try await reopened.load(Self.request())
            #expect(state.sessions == [Self.ann: [1, 2, 3]])
            #expect(state.identities[Self.ann] == [UInt8](repeating: 7, count: 32))
            #expect(state.senderKeys == [Self.group: [4, 5]])
            #expect(state.lidByPhoneNumber == ["15551234567": "123456789012345"])
            #expect(state.consumedPreKeys == [17])
            #expect(state.inbox == [Self.message("M1").key: "text"])
            var retry = ProtocolChanges()
            retry.reservesRetryPreKey = true
            #expect(try await reopened.commit(retry).retryPreKeySequence == 1, "the counter survives the restart")

            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
        }
    }

    @Test func aSecondUseOfAPrekeyWritesNothingAndAMessageIsKeptOnce() async throws {
        try await withPath { path in
            let store = try LinkProtocolStore(path: path)
            var first = ProtocolChanges()
            first.consumedPreKeys = [17]
            first.message = Self.message("M1")
            _ = try await store.commit(first)
            let before = try Data(contentsOf: URL(fileURLWithPath: path))

            var again = ProtocolChanges()
            again.consumedPreKeys = [17]
            again.sessions = [Self.ann: [9]]
            again.message = Self.message("M2")
            await #expect(throws: LinkFileError.self) { try await store.commit(again) }
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "nothing written")
            #expect(try await store.load(Self.request()).sessions.isEmpty, "nothing changed in memory either")

            var replay = ProtocolChanges()
            replay.message = Self.message("M1")
            _ = try await store.commit(replay)
            let contents = try #require(String(data: try Data(contentsOf: URL(fileURLWithPath: path)), encoding: .utf8))
            #expect(contents.components(separatedBy: "\"M1\"").count == 2, "one record of M1: \(contents)")
        }
    }

    @Test func aCommitThatCannotBeWrittenChangesNothing() async throws {
        let folder = TestEnvironment.scratchDirectory + "/link-store-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = try LinkProtocolStore(path: folder + "/gone/state.signal")
        var changes = ProtocolChanges()
        changes.sessions = [Self.ann: [1]]
        await #expect(throws: LinkFileError.self) { try await store.commit(changes) }
        #expect(try await store.load(Self.request()).sessions.isEmpty)
    }

    @Test func aFileThatIsNotAStateFileIsRefusedWithItsPath() throws {
        let path = TestEnvironment.scratchDirectory + "/link-store-\(UUID().uuidString.prefix(8)).signal"
        defer { unlink(path) }
        try Data("{\"version\":1}".utf8).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try LinkProtocolStore(path: path)
        } throws: { error in
            (error as? LinkFileError)?.code == .unreadable && "\(error)".hasPrefix(path)
        }
    }
}
