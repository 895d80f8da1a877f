import AdminAPI
import Testing

@Suite("wa-version: reading client_revision")
struct WAVersionTests {
    // Shapes seen in web.whatsapp.com's service worker (escaped JSON inside a script string) and page (plain JSON).
    private let serviceWorkerSnippet = #"""
    self.__swData=JSON.parse(/*BTDS*/"{\"dynamic_data\":{\"SiteData\":{\"server_revision\":1029876543,\"client_revision\":1030123456,\"push_phase\":\"C3\"}}}");
    importScripts("https://static.whatsapp.net/rsrc.php/v4/yS/r/abc.js");
    """#
    private let pageSnippet = #"""
    <script>requireLazy(["ServerJS"],function(s){s.handle({"define":[["SiteData",[],{"client_revision": 1045649367,"tier":""},317]]})});</script>
    """#

    @Test func readsTheRevisionFromTheServiceWorkerScript() {
        #expect(WebClientRevision.extract(from: serviceWorkerSnippet) == 1_030_123_456)
    }

    @Test func readsTheRevisionFromThePage() {
        #expect(WebClientRevision.extract(from: pageSnippet) == 1_045_649_367)
        #expect(WebClientRevision.version(1_045_649_367) == "2.3000.1045649367")
    }

    @Test func findsNothingWithoutANumberAfterTheKey() {
        #expect(WebClientRevision.extract(from: "no revision here") == nil)
        #expect(WebClientRevision.extract(from: #"{"client_revision":"soon"}"#) == nil)
        #expect(WebClientRevision.extract(from: #"client_revision, then "client_revision":42"#) == 42)
    }
}
