import ArgumentParser
import DevicePool
import Foundation
import Logging
import Messaging
import NIOCore
import NIOPosix
import QRCode
import WAClient
import WAWire

/// `pairgate link`: pairs one device against any upstream (WhatsApp or a simulator) from the terminal and
/// prints every event, so an operator can see where a connection fails without running the gateway.
struct LinkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "link",
        abstract: "Pair one device (QR code or pairing code) and bring it online, printing every event.",
        discussion: """
            With --credentials-file, the paired credentials are written there (mode 0600) before the pairing is \
            confirmed; when the file already exists, the device logs in with it instead of pairing. Exits 0 once \
            the device is online, non-zero with the classified reason otherwise. With --stay it stays online and \
            receives: every message goes through the gateway's receive pipeline (decrypted, its Signal state kept \
            in <credentials-file>.signal, then receipted or retried) and is printed as it arrives. \
            With --send NUMBER TEXT (repeatable) it sends each message after login through the gateway's send \
            path, one at a time, and prints each status as it arrives (queued, sent, delivered, read, or failed \
            with a reason); it exits 0 once every message was sent and, without --stay, every one was read or \
            --wait seconds passed, non-zero when one failed. \
            With --json, every event is one JSON object on a line of its own, with a stable `event` field.
            """
    )

    enum Method: String, ExpressibleByArgument, CaseIterable {
        case qr
        case code
    }

    @Option(help: "The WebSocket to connect to (ws:// or wss://).")
    var upstream = "wss://web.whatsapp.com/ws/chat"

    @Option(name: .customLong("root-key"), help: "Hex of the 32-byte key that must sign the server's certificate (default: WhatsApp's; `pairgate sim` prints its own).")
    var rootKey: String?

    @Option(name: .customLong("ca-file"), help: "PEM file of the CA that signed the upstream's TLS certificate (default: the system's CAs).")
    var caFile: String?

    @Option(help: "qr or code.")
    var method = Method.qr

    @Option(help: "The account's phone number in international format, digits only (required with --method code).")
    var phone: String?

    @Option(help: "http://user:pass@host:port (HTTP CONNECT) or socks5://user:pass@host:port.")
    var proxy: String?

    @Option(name: .customLong("credentials-file"), help: "Where the paired credentials are written (mode 0600); if it exists, log in with it.")
    var credentialsFile: String?

    @Option(name: .customLong("web-version"), help: "The WhatsApp Web version to claim, e.g. 2.3000.1045649367.")
    var webVersion: String?

    @Flag(help: "Stay online after logging in and receive messages (printed as they arrive), until the connection ends.")
    var stay = false

    @Flag(help: "Print one JSON object per line and event instead of text (fields in docs/link.md).")
    var json = false

    @Option(
        name: .customLong("send"), parsing: .upToNextOption,
        help: ArgumentHelp("After login, send TEXT to NUMBER (+15551234567 or a user JID); repeatable, sent in order.", valueName: "NUMBER TEXT")
    )
    var send: [String] = []

    @Option(help: "With --send and without --stay: seconds to wait for delivery and read receipts once every message was sent (0–3600).")
    var wait = 30

    func validate() throws {
        if method == .code, phone?.allSatisfy(\.isNumber) != true || phone?.isEmpty == true {
            throw ValidationError("--method code needs --phone with the account's number, digits only")
        }
        if let rootKey, Self.bytes(hex: rootKey)?.count != 32 {
            throw ValidationError("--root-key must be 64 hex digits")
        }
        if let proxy, ProxyConfiguration(url: proxy) == nil {
            throw ValidationError("--proxy must look like http://user:pass@host:port or socks5://user:pass@host:port")
        }
        if let webVersion, WebClientVersion(webVersion) == nil {
            throw ValidationError("--web-version must look like 2.3000.1045649367")
        }
        if UpstreamEndpoint(url: upstream) == nil {
            throw ValidationError("--upstream must be a ws:// or wss:// URL")
        }
        if case .failure(let failure) = LinkOutgoing.parse(send) {
            throw ValidationError(failure.description)
        }
        if !(0...3600).contains(wait) {
            throw ValidationError("--wait must be 0 to 3600 seconds")
        }
    }

    func run() async throws {
        var configuration = ClientConfiguration()
        configuration.upstreamURL = upstream
        if let rootKey, let key = Self.bytes(hex: rootKey) {
            configuration.trustedRootKey = key
        }
        if let caFile {
            configuration.tls = try ClientTLS(trustRoots: .pemFile(caFile))
        }
        if let webVersion, let version = WebClientVersion(webVersion) {
            configuration.webVersion = version
        }
        var logger = Logger(label: "pairgate.link") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = UpstreamClient(eventLoopGroup: group, configuration: configuration, logger: logger)
        let outcome: Result<Void, LinkFailure>
        do {
            outcome = try await link(client)
        } catch {
            try? await group.shutdownGracefully()
            report(.failed("\(error)"))
            throw error
        }
        try? await group.shutdownGracefully()
        if case .failure(let failure) = outcome {
            report(.failed(failure.description))
            throw failure
        }
    }

    /// Connects until the device is online (and, with --stay, until that connection ends).
    private func link(_ client: UpstreamClient) async throws -> Result<Void, LinkFailure> {
        var credentials: DeviceCredentials
        var intent: ConnectionIntent
        if let credentialsFile, FileManager.default.fileExists(atPath: credentialsFile) {
            credentials = try JSONDecoder().decode(DeviceCredentials.self, from: Data(contentsOf: URL(fileURLWithPath: credentialsFile)))
            guard credentials.isPaired else {
                return .failure(LinkFailure("\(credentialsFile) holds credentials that never finished pairing; delete it to pair again"))
            }
            intent = .login
            report(.credentialsLoaded(path: credentialsFile))
        } else {
            credentials = DeviceCredentials.generate()
            intent = .pair(method == .qr ? .qr : .code(phoneNumber: phone ?? ""))
            // A state file without its credentials belongs to a device that is gone: its sessions and
            // consumed prekeys would refuse the new device's messages.
            if let credentialsFile {
                unlink(LinkProtocolStore.path(besideCredentials: credentialsFile))
            }
        }
        let proxyConfiguration = proxy.flatMap(ProxyConfiguration.init(url:))
        // The gateway's receive path, over a file beside the credentials (in memory without one).
        let store = try LinkProtocolStore(path: credentialsFile.map(LinkProtocolStore.path(besideCredentials:)))
        var receiver: (credentials: DeviceCredentials, pipeline: InboundPipeline)?
        // --send: the gateway's send path over the same state file, with an outbox in memory.
        let outgoing = (try? LinkOutgoing.parse(send).get()) ?? []
        let outbox = LinkOutbox()
        var sender: DeviceSender?
        var progress: LinkSendProgress?
        // The ack deadline of the message in flight, then the wait for receipts: each closes the connection.
        var timer: Task<Void, Never>?
        defer { timer?.cancel() }
        while true {
            report(.connecting(upstream: upstream, proxy: proxyConfiguration, intent: intent))
            let (connection, events) = client.connect(credentials: credentials, intent: intent, proxy: proxyConfiguration)
            var restart = false
            for await event in events {
                switch event {
                case .qr(let code, let validFor):
                    report(.qr(code: code, validFor: validFor))
                case .pairingCode(let code, let validFor):
                    report(.pairingCode(code, validFor: validFor))
                case .pairSuccess(let paired, let confirmation):
                    report(.pairSuccess(jid: paired.account?.jid))
                    do {
                        try save(paired)
                        credentials = paired
                        confirmation.accept()
                    } catch {
                        report(.credentialsNotWritten("\(error)"))
                        confirmation.reject(error)
                    }
                case .paired(let account):
                    report(.paired(account))
                case .online(let info):
                    report(.online(info))
                    if outgoing.isEmpty {
                        if !stay {
                            await connection.close(reason: DisconnectReason(stage: .local, category: .shutdown, detail: Self.done))
                            return .success(())
                        }
                        break
                    }
                    if progress == nil {
                        let started = LinkSendProgress(outgoing, ownUser: JID(parsing: info.jid)?.user, now: Date())
                        for entry in started.entries {
                            outbox.add(entry.message)
                            report(.messageStatus(entry))
                        }
                        progress = started
                    }
                    if sender?.credentials != credentials {
                        sender = DeviceSender(credentials: credentials, protocolStore: store, outbox: outbox)
                    }
                    if let sender, let end = await pump(&progress!, sender: sender, connection: connection, timer: &timer) {
                        return end
                    }
                case .credentialsUpdated(let updated):
                    credentials = updated
                    try save(updated)
                    report(.credentialsUpdated)
                case .stanza(let node) where node.tag == "ack" && node.attribute("class") == "message":
                    // The server's ack of a message we sent: `sent` (or failed), then the next one.
                    guard let ack = try? ServerAck(node), progress != nil else {
                        break
                    }
                    let matching = progress?.inFlight?.id == ack.id ? progress?.inFlight : nil
                    let changes = DeviceSender.record(ack, sent: matching?.sent, now: Date())
                    if !changes.forgottenDeviceLists.isEmpty {
                        try? await outbox.forgetDeviceLists(matching?.sent.lists ?? [])
                    }
                    for change in changes.outboundStatuses {
                        if let entry = progress?.apply(change) { report(.messageStatus(entry)) }
                    }
                    if matching != nil {
                        progress?.inFlight = nil
                        timer?.cancel()
                        timer = nil
                    }
                    if let sender, let end = await pump(&progress!, sender: sender, connection: connection, timer: &timer) {
                        return end
                    }
                case .stanza(let node):
                    // The pipeline is built from the credentials it decrypts with: again once the LID is learned.
                    if receiver?.credentials != credentials {
                        receiver = LocalDevice(credentials: credentials).map { (credentials, InboundPipeline(store: store, device: $0)) }
                    }
                    guard let pipeline = receiver?.pipeline else {
                        break
                    }
                    let result: InboundResult
                    do {
                        var generator = SystemRandomNumberGenerator()
                        result = try await pipeline.receive(node, using: &generator)
                    } catch {
                        // Nothing was stored and nothing is answered: the server delivers it again.
                        await connection.close(reason: DisconnectReason(stage: .local, category: .shutdown, detail: "the Signal state was not stored"))
                        return .failure(LinkFailure("cannot store the Signal state (\(error)); the stanza stays with the server"))
                    }
                    report(result.report, of: node)
                    for change in result.statuses {
                        if let entry = progress?.apply(change) { report(.messageStatus(entry)) }
                    }
                    // A connection that ended meanwhile gets the stanza again at the next login, and the
                    // stored state recognises it.
                    try? await connection.send(result.answers)
                    if node.tag == "receipt", node.attribute("type") == "retry", let sender {
                        await answerRetry(node, sender: sender, connection: connection)
                    }
                    if progress != nil, let end = await finishIfDone(progress!, connection: connection, timer: &timer) {
                        return end
                    }
                case .keepaliveLost(let failures, let lastSuccess):
                    report(.keepaliveLost(failures: failures, silentFor: lastSuccess.map { .seconds(Date().timeIntervalSince($0)) }))
                case .keepaliveRestored:
                    report(.keepaliveRestored)
                case .disconnected(let reason):
                    report(.disconnected(reason))
                    if reason.stage == .local, reason.detail == Self.done, let progress {
                        return Self.outcome(progress)
                    }
                    if reason.category == .restartRequired, credentials.isPaired {
                        restart = true
                    } else {
                        return .failure(LinkFailure(Self.explain(reason)))
                    }
                case .loggedOut(let reason):
                    report(.loggedOut(reason))
                    return .failure(LinkFailure("the device is logged out (\(reason)); delete the credentials file and pair again"))
                }
            }
            guard restart else {
                return .failure(LinkFailure("the connection ended without a reason"))
            }
            intent = .login
        }
    }

    /// What the command's connection is closed with once it is done.
    static let done = "pairgate link is done"

    /// How long a sent message may wait for the server's ack (the gateway's default,
    /// `messages.send_ack_timeout_seconds`); past it the command gives up.
    static let ackTimeout: Duration = .seconds(75)

    /// Sends the due messages, one at a time: prepared as the gateway prepares them (device lists,
    /// sessions, bundles, encryption), the advanced Signal state committed to the state file, then
    /// the stanza written; the next one goes after this one's ack. A message that cannot be sent
    /// fails and the next one is tried. Non-nil when the command ends.
    private func pump(
        _ progress: inout LinkSendProgress, sender: DeviceSender, connection: UpstreamConnection, timer: inout Task<Void, Never>?
    ) async -> Result<Void, LinkFailure>? {
        while let entry = progress.due {
            let prepared: DeviceSender.Prepared
            do {
                prepared = try await sender.prepare(entry.message, session: connection, now: Date())
            } catch {
                await connection.close(reason: DisconnectReason(stage: .local, category: .shutdown, detail: Self.done))
                return .failure(LinkFailure("message \(entry.message.messageID) to \(entry.outgoing.to) was not sent: \(error)"))
            }
            progress.advance()
            switch prepared {
            case .failed(let changes):
                for change in changes.outboundStatuses {
                    if let moved = progress.apply(change) { report(.messageStatus(moved)) }
                }
            case .send(let stanza, let changes, let sent):
                // The ratchet state first: a message key is never used twice.
                do {
                    _ = try await sender.protocolStore.commit(changes)
                } catch {
                    await connection.close(reason: DisconnectReason(stage: .local, category: .shutdown, detail: Self.done))
                    return .failure(LinkFailure("cannot store the Signal state (\(error)); message \(entry.message.messageID) was not sent"))
                }
                progress.inFlight = (entry.message.messageID, sent)
                do {
                    try await connection.send([stanza])
                } catch {
                    // The connection ended: its `.disconnected` ends the command.
                    return nil
                }
                let id = entry.message.messageID
                timer?.cancel()
                timer = Task {
                    try? await Task.sleep(for: Self.ackTimeout)
                    guard !Task.isCancelled else { return }
                    await connection.close(reason: DisconnectReason(
                        stage: .local, category: .timeout, detail: "no server ack for message \(id) within \(Self.ackTimeout.components.seconds) s"
                    ))
                }
                return nil
            }
        }
        return await finishIfDone(progress, connection: connection, timer: &timer)
    }

    /// Once every message was sent: without --stay, done when all were read (or failed), else after
    /// --wait seconds of receipts. Non-nil when the command ends now.
    private func finishIfDone(
        _ progress: LinkSendProgress, connection: UpstreamConnection, timer: inout Task<Void, Never>?
    ) async -> Result<Void, LinkFailure>? {
        guard progress.allSent, !stay else {
            return nil
        }
        if progress.allFinal || wait == 0 {
            timer?.cancel()
            timer = nil
            await connection.close(reason: DisconnectReason(stage: .local, category: .shutdown, detail: Self.done))
            return Self.outcome(progress)
        }
        guard timer == nil else {
            return nil
        }
        let receipts = Duration.seconds(self.wait)
        timer = Task {
            try? await Task.sleep(for: receipts)
            guard !Task.isCancelled else { return }
            await connection.close(reason: DisconnectReason(stage: .local, category: .shutdown, detail: Self.done))
        }
        return nil
    }

    /// Success unless a message failed.
    private static func outcome(_ progress: LinkSendProgress) -> Result<Void, LinkFailure> {
        let failures = progress.failures
        guard !failures.isEmpty else {
            return .success(())
        }
        let list = failures.map { "\($0.message.messageID) to \($0.outgoing.to) (\($0.reason ?? "?"))" }.joined(separator: ", ")
        return .failure(LinkFailure("\(failures.count) of \(progress.entries.count) messages failed: \(list)"))
    }

    /// A recipient's device could not decrypt our message: it goes again to that device alone, as
    /// the gateway answers (messaging.md §5.2). The receipt was acked already.
    private func answerRetry(_ node: Node, sender: DeviceSender, connection: UpstreamConnection) async {
        guard let device = LocalDevice(credentials: sender.credentials),
              let request = (try? IncomingReceipt(node, own: device.account))?.retry
        else {
            return
        }
        do {
            guard let (stanza, changes) = try await sender.resend(request, session: connection) else { return }
            _ = try await sender.protocolStore.commit(changes)
            try await connection.send([stanza])
        } catch {
            // The peer does not ask again for this count; the message stays as it is.
        }
    }

    /// Prints one event: its line of text (with the QR symbol under a QR), or its JSON object.
    /// Standard output is line-buffered (Sources/pairgate), so each line leaves at once, also
    /// into a pipe or a file.
    private func report(_ event: LinkEvent) {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            if let data = try? encoder.encode(event) {
                print(String(decoding: data, as: UTF8.self))
            }
            return
        }
        guard let text = event.text else {
            return
        }
        print(text)
        if case .qr(let code, _) = event, let symbol = try? QRCode.encode(code, correction: .low) {
            print(symbol.terminalText())
        }
    }

    /// Prints what a stanza brought: a message, a redelivery, a failure, a changed identity. Receipts,
    /// notifications and acked-only messages (statuses, newsletters) print nothing.
    private func report(_ handled: InboundReport, of node: Node) {
        let id = node.attribute("id") ?? "?"
        let from = node.attribute("participant") ?? node.attribute("from") ?? "?"
        switch handled.disposition {
        case .stored:
            if let message = handled.message {
                report(.message(message))
            }
        case .duplicate:
            report(.messageDuplicate(id: id, from: from))
        case .decryptFailed(let reason):
            report(.messageUndecryptable(id: id, from: from, reason: reason, retry: handled.retryReceipt))
        case .refused(let code):
            report(.stanzaRefused(tag: handled.tag, id: id, code: code.rawValue))
        case .receipted, .acknowledged:
            break
        }
        for change in handled.identityChanges {
            report(.identityChanged(change))
        }
    }

    /// Writes the credentials with mode 0600, replacing the file atomically.
    private func save(_ credentials: DeviceCredentials) throws {
        guard let credentialsFile else {
            return
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.replace(credentialsFile, with: try encoder.encode(credentials))
    }

    /// A hint for the failures an operator can act on.
    private static func explain(_ reason: DisconnectReason) -> String {
        var text = "\(reason)"
        switch (reason.stage, reason.category) {
        case (_, .clientOutdated): text += " — pass a newer --web-version (see `pairgate wa-version`)"
        case (.certificate, _): text += " — is --root-key right for this upstream?"
        case (.tls, .certificateRejected): text += " — pass the upstream's CA with --ca-file"
        case (.dns, _), (.tcp, _): text += " — check the host, the port and the network path"
        case (.proxy, _): text += " — check --proxy and its credentials"
        case (_, .pairingTimeout): text += " — no phone scanned in time; run again"
        default: break
        }
        return text
    }

    private static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else {
            return nil
        }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index...index + 1], as: UTF8.self), radix: 16) else {
                return nil
            }
            bytes.append(byte)
        }
        return bytes
    }
}

/// Why `pairgate link` gave up; printed as the command's error.
struct LinkFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
