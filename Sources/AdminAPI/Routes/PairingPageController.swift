import DevicePool
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresClient
import PostgresStore

/// GET / on a tenant's host: the page the phone's owner opens from the signed link. It shows the
/// live QR (drawn by our encoder) or the pairing code, a countdown and the outcome, updated over
/// the event stream by a few lines of plain JavaScript. Every failure is an HTML page too —
/// an expired or altered link never shows a QR, a database outage says to try again (503 with
/// Retry-After) — so the page admits callers itself instead of sitting behind the tenant middleware.
struct PairingPageController: Sendable {
    let gate: TenantGate
    let devices: PostgresDeviceStore
    let links: PairingLinkSigner
    let pairings: PairingWatchers

    func addRoutes(to router: some RouterMethods<APIContext>) {
        router.get("/", use: show)
    }

    @Sendable func show(_ request: Request, context: APIContext) async throws -> Response {
        do {
            let access = try await gate.admit(request, peer: context.peer, allowLink: true)
            return try await page(access, asked: try PairingQuery(request).pairingID)
        } catch let invalid as APIError where invalid.code == .validationFailed {
            return PairingPage.message(.unprocessableContent, "This address is not valid", invalid.detail ?? "Open the link you were given.")
        } catch let failure as PostgresError {
            guard let unavailable = APIError(unavailable: failure) else { throw failure }
            context.logger.warning("a database call failed", metadata: ["error": "\(failure)"])
            var page = PairingPage.message(.serviceUnavailable, "Please try again in a moment", "The pairing service is briefly unavailable.")
            page.headers.append(contentsOf: unavailable.headers)
            return page
        } catch let failure as TenantGate.Failure {
            return switch failure {
            case .unknownHost: PairingPage.message(.notFound, "Nothing here", "No pairing is served at this address.")
            case .unauthorized: PairingPage.message(.unauthorized, "A pairing link is needed", "Open the link you were given to link your WhatsApp.")
            case .linkExpired: PairingPage.message(.gone, "This link has expired", "Pairing links last only as long as their pairing. Ask for a new one.")
            case .linkInvalid: PairingPage.message(.forbidden, "This link is not valid", "The link was changed or belongs elsewhere. Ask for a new one.")
            case .disabled: PairingPage.message(.forbidden, "Pairing is not available", "This service is currently disabled.")
            case .overloaded: PairingPage.message(.serviceUnavailable, "Busy", "Too many requests right now. Try again in a moment.")
            }
        }
    }

    /// The page of the link's pairing; with a token, of the pairing `asked` for or else the
    /// tenant's running one.
    private func page(_ access: TenantAccess, asked: UUID?) async throws -> Response {
        let record: PairingRecord?
        switch access.credential {
        case .link(let pairingID): record = try await devices.pairing(pairingID)
        case .token: record = if let asked { try await devices.pairing(asked) } else { try await devices.openPairing(tenantID: access.tenantID) }
        }
        guard let record, record.tenantID == access.tenantID else {
            return PairingPage.message(.notFound, "No pairing is running", "Start a pairing first, then open its link.")
        }
        let link = links.sign(pairingID: record.id, expiresAt: record.deadline)
        let latest = record.endedAt == nil ? pairings.showing(record.id) : nil
        var svgMarkup: String?
        if case .qr(let code, _)? = latest { svgMarkup = try? PairingView.svg(code) }
        let view = PairingView(
            pairingID: record.id, deviceID: record.deviceID, method: record.method, deadline: record.deadline, latest: latest,
            outcome: record.outcome.map { .ended($0, detail: record.detail) }
        )
        return PairingPage.render(view, svg: svgMarkup, eventsURL: "/pair/events?\(link.query)")
    }
}

enum PairingPage {
    static func render(_ view: PairingView, svg: String?, eventsURL: String) -> Response {
        let config = PageConfig(
            eventsURL: eventsURL, expiresAt: view.expiresAt, codeExpiresAt: view.codeExpiresAt,
            status: view.status, outcome: view.outcome?.rawValue
        )
        let configJSON = (try? APIJSON.encoder.encode(config)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        let body = """
            <main data-state="\(view.outcome?.rawValue ?? view.status)" id="pairing">
              <h1>Link your WhatsApp</h1>
              <p id="status">\(escape(statusText(view)))</p>
              <div id="qr"\(svg == nil ? " hidden" : "")>\(svg ?? "")</div>
              <p id="code"\(view.code == nil ? " hidden" : "")>\(escape(view.code ?? ""))</p>
              <p id="countdown"></p>
              <ol id="steps"\(view.outcome == nil ? "" : " hidden")>
                <li>Open WhatsApp on your phone.</li>
                <li>Go to Settings → Linked devices → Link a device.</li>
                <li>Scan the code (or choose “Link with phone number” and type the code).</li>
              </ol>
            </main>
            <script type="application/json" id="pairing-config">\(configJSON.replacingOccurrences(of: "<", with: "\\u003c"))</script>
            <script>\(script)</script>
            """
        return html(.ok, title: "Link your WhatsApp", body: body)
    }

    private struct PageConfig: Encodable {
        var eventsURL: String
        var expiresAt: Date
        var codeExpiresAt: Date?
        var status: String
        var outcome: String?
    }

    private static func statusText(_ view: PairingView) -> String {
        switch view.outcome {
        case .paired?: return "Linked. You can close this page."
        case .timeout?: return "The pairing timed out. Ask for a new link."
        case .some: return "The pairing ended without linking. Ask for a new link."
        case nil: break
        }
        if view.qr != nil { return "Scan this QR code with WhatsApp." }
        if view.code != nil { return "Type this code in WhatsApp." }
        return "Preparing the code…"
    }

    static func message(_ status: HTTPResponse.Status, _ title: String, _ text: String) -> Response {
        html(status, title: title, body: "<main data-state=\"error\" id=\"pairing\"><h1>\(escape(title))</h1><p>\(escape(text))</p></main>")
    }

    private static func html(_ status: HTTPResponse.Status, title: String, body: String) -> Response {
        let document = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="no-referrer">
            <title>\(escape(title))</title>
            <style>\(style)</style></head>
            <body>\(body)</body></html>
            """
        return Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store", HTTPField.Name("X-Frame-Options")!: "DENY"],
            body: .init(byteBuffer: ByteBuffer(string: document))
        )
    }

    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    private static let style = """
        body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2129;margin:0;display:flex;justify-content:center}
        main{background:#fff;margin:2rem 1rem;padding:1.5rem 2rem;border-radius:12px;max-width:28rem;text-align:center;box-shadow:0 1px 4px #0002}
        #qr svg{width:288px;height:288px;max-width:100%;background:#fff}
        #code{font:700 2.2rem ui-monospace,monospace;letter-spacing:.15em}
        #countdown{color:#5b6270}
        #steps{text-align:left;color:#5b6270;font-size:.9rem}
        main[data-state=paired] #status{color:#0a7d32;font-weight:600}
        main[data-state=timeout] #status,main[data-state=failed] #status,main[data-state=cancelled] #status,main[data-state=interrupted] #status{color:#b3261e;font-weight:600}
        """

    /// Listens to the pairing's events and updates the page; no framework, no reloads.
    private static let script = """
        (function () {
          var config = JSON.parse(document.getElementById("pairing-config").textContent);
          var main = document.getElementById("pairing");
          var qr = document.getElementById("qr");
          var code = document.getElementById("code");
          var statusLine = document.getElementById("status");
          var countdown = document.getElementById("countdown");
          var deadline = Date.parse(config.expires_at);
          var codeExpires = config.code_expires_at ? Date.parse(config.code_expires_at) : null;
          var ended = config.outcome != null;
          function seconds(until) { return Math.max(0, Math.round((until - Date.now()) / 1000)); }
          function tick() {
            if (ended) { countdown.textContent = ""; return; }
            var text = "Pairing ends in " + seconds(deadline) + " s";
            if (codeExpires) { text = "Code changes in " + seconds(codeExpires) + " s · " + text; }
            countdown.textContent = text;
          }
          function finish(state, message) {
            ended = true;
            main.setAttribute("data-state", state);
            statusLine.textContent = message;
            qr.hidden = true;
            code.hidden = true;
            document.getElementById("steps").hidden = true;
            tick();
            source.close();
          }
          setInterval(tick, 1000);
          tick();
          if (ended) { return; }
          var source = new EventSource(config.events_url);
          source.addEventListener("qr", function (event) {
            var data = JSON.parse(event.data);
            qr.innerHTML = data.svg;
            qr.hidden = false;
            code.hidden = true;
            codeExpires = Date.parse(data.expires_at);
            main.setAttribute("data-state", "showing");
            statusLine.textContent = "Scan this QR code with WhatsApp.";
            tick();
          });
          source.addEventListener("code", function (event) {
            var data = JSON.parse(event.data);
            code.textContent = data.code;
            code.hidden = false;
            qr.hidden = true;
            codeExpires = Date.parse(data.expires_at);
            main.setAttribute("data-state", "showing");
            statusLine.textContent = "Type this code in WhatsApp.";
            tick();
          });
          source.addEventListener("paired", function (event) {
            var data = JSON.parse(event.data);
            finish("paired", "Linked" + (data.number ? " to " + data.number : "") + ". You can close this page.");
          });
          source.addEventListener("timeout", function () {
            finish("timeout", "The pairing timed out. Ask for a new link.");
          });
          source.addEventListener("failed", function (event) {
            var data = JSON.parse(event.data);
            finish(data.outcome || "failed", "The pairing ended without linking. Ask for a new link.");
          });
        })();
        """
}
