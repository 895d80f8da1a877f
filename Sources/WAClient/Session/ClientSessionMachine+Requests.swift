import Foundation
import WAWire

extension ClientSessionMachine {
    /// Why we sent an IQ, so its answer (or its timeout) goes to the right step.
    enum PendingIQ: Sendable {
        case keepalive
        case preKeyCount
        /// An upload of one-time prekeys; `nextID` is the first id not covered by it.
        case preKeyUpload(nextID: UInt32)
        case passive
        case companionHello
        case companionFinish
        case logout(ClientRequestID)
        case api(ClientRequestID)

        var apiRequest: ClientRequestID? {
            switch self {
            case .logout(let id), .api(let id): id
            default: nil
            }
        }
    }

    /// How an IQ ended.
    enum IQOutcome: Sendable {
        case result(Node)
        case error(Node)
        case timeout

        var isResult: Bool {
            if case .result = self { true } else { false }
        }

        var isTimeout: Bool {
            if case .timeout = self { true } else { false }
        }
    }

    mutating func handleResponse(_ node: Node, now: Date) -> [Action] {
        guard let id = node.attribute("id"), let iq = connection?.pending.removeValue(forKey: id) else {
            return []
        }
        let outcome: IQOutcome = node.attribute("type") == "result" ? .result(node) : .error(node)
        return [.cancel(.request(id))] + complete(iq, with: outcome, now: now)
    }

    mutating func complete(_ iq: PendingIQ, with outcome: IQOutcome, now: Date) -> [Action] {
        switch iq {
        case .keepalive:
            return keepaliveAnswered(outcome, now: now)
        case .preKeyCount:
            return preKeyCountAnswered(outcome)
        case .preKeyUpload(let nextID):
            return preKeyUploadAnswered(outcome, nextID: nextID)
        case .passive:
            return passiveAnswered()
        case .companionHello:
            return companionHelloAnswered(outcome, now: now)
        case .companionFinish:
            return companionFinishAnswered(outcome)
        case .logout(let request):
            guard case .result(let node) = outcome else {
                return [.complete(request, .failure(Self.requestError(outcome)))]
            }
            return [.complete(request, .success(node))]
                + terminate(DisconnectReason(stage: .local, category: .loggedOut, detail: "logged out on request"))
        case .api(let request):
            guard case .result(let node) = outcome else {
                return [.complete(request, .failure(Self.requestError(outcome)))]
            }
            return [.complete(request, .success(node))]
        }
    }

    mutating func handleRequest(_ request: ClientRequestID, _ call: ClientRequest) -> [Action] {
        switch phase {
        case .closed:
            return [Self.refuse(request, call, ClientRequestError(.connectionClosed))]
        case .idle, .handshaking:
            return [Self.refuse(request, call, ClientRequestError(.notConnected))]
        case .pairing, .loggingIn, .preparing, .online:
            break
        }
        switch call {
        case .iq(var node, let timeout):
            let id = nextID()
            node.attributes["id"] = .string(id)
            if node.attributes["to"] == nil {
                node.attributes["to"] = .server
            }
            guard node.tag == "iq", let bytes = try? encrypted(node) else {
                return [.complete(request, .failure(ClientRequestError(.invalidRequest)))]
            }
            connection?.pending[id] = .api(request)
            return [.write(bytes), .schedule(.request(id), after: timeout ?? configuration.timeouts.request)]
        case .logout:
            guard phase == .online || phase == .preparing, let account = credentials.account,
                  let jid = JID(parsing: account.jid)
            else {
                return [.complete(request, .failure(ClientRequestError(.notConnected)))]
            }
            let remove = Node("remove-companion-device", ["jid": .jid(jid), "reason": "user_initiated"])
            return sendIQ(Node("iq", ["xmlns": "md", "type": "set"], [remove]), for: .logout(request))
        case .send(let nodes):
            return sendAnswers(nodes, for: request)
        }
    }

    /// The consumer's answers to delivered stanzas, from `<success>` on. All are encoded before any is
    /// written, so a node that cannot be encoded sends nothing; a transport that cannot encrypt ends
    /// the connection, as for our own stanzas.
    private mutating func sendAnswers(_ nodes: [Node], for request: ClientRequestID) -> [Action] {
        guard session != nil else {
            return [.sent(request, .failure(ClientRequestError(.notConnected)))]
        }
        var bodies: [[UInt8]] = []
        for node in nodes {
            guard let body = try? NodeEncoder.encode(node) else {
                return [.sent(request, .failure(ClientRequestError(.invalidRequest)))]
            }
            bodies.append(body)
        }
        var actions: [Action] = []
        for body in bodies {
            do {
                actions.append(.write(try encrypted(encoded: body)))
            } catch {
                let reason = DisconnectReason(stage: .local, category: .other, detail: "cannot send an answer (\(error))")
                return actions + terminate(reason) + [.sent(request, .failure(ClientRequestError(.connectionClosed)))]
            }
        }
        return actions + [.sent(request, .success(()))]
    }

    /// The answer to a request refused before it ran.
    private static func refuse(_ request: ClientRequestID, _ call: ClientRequest, _ error: ClientRequestError) -> Action {
        if case .send = call {
            return .sent(request, .failure(error))
        }
        return .complete(request, .failure(error))
    }

    /// The error an IQ that got no result ends with: its `<error>`, or a timeout.
    static func requestError(_ outcome: IQOutcome) -> ClientRequestError {
        guard case .error(let node) = outcome else {
            return ClientRequestError(.timedOut)
        }
        let error = node.child("error")
        return ClientRequestError(
            .errorResponse, errorCode: error?.attribute("code").flatMap { Int($0) }, text: error?.attribute("text")
        )
    }
}
