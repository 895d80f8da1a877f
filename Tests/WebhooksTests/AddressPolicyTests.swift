import Testing
import Webhooks

/// Which addresses webhooks may go to.
@Suite struct AddressPolicyTests {
    @Test(arguments: [
        ("127.0.0.1", AddressPolicy.Category.loopback), ("127.255.0.9", .loopback), ("::1", .loopback),
        ("10.0.0.1", .private), ("172.16.5.4", .private), ("172.31.255.255", .private), ("192.168.1.1", .private),
        ("fc00::1", .private), ("fd12:3456::1", .private), ("fec0::1", .private),
        ("169.254.0.1", .linkLocal), ("fe80::1", .linkLocal), ("febf::1", .linkLocal),
        ("100.64.0.1", .sharedAddressSpace), ("100.127.255.254", .sharedAddressSpace),
        ("0.0.0.0", .unspecified), ("::", .unspecified),
        ("224.0.0.1", .multicast), ("239.255.255.250", .multicast), ("ff02::1", .multicast),
        ("169.254.169.254", .metadata), ("fd00:ec2::254", .metadata),
        ("0.1.2.3", .reserved), ("240.0.0.1", .reserved), ("255.255.255.255", .reserved), ("192.0.2.10", .reserved),
        ("198.51.100.1", .reserved), ("203.0.113.5", .reserved), ("198.18.0.1", .reserved), ("192.0.0.8", .reserved),
        ("2001:db8::1", .reserved), ("2001::1", .reserved), ("100::1", .reserved), ("::7f00:1", .reserved),
        // IPv6 forms that carry an IPv4 address are what that address is.
        ("::ffff:127.0.0.1", .loopback), ("::ffff:10.1.2.3", .private), ("::ffff:169.254.169.254", .metadata),
        ("64:ff9b::a00:1", .private), ("2002:7f00:1::", .loopback), ("2002:a9fe:a9fe::1", .metadata),
        ("64:ff9b:1::1", .private),
    ])
    func specialAddressesAreClassified(text: String, category: AddressPolicy.Category) throws {
        let address = try #require(IPAddress(text))
        #expect(AddressPolicy.category(of: address) == category)
        #expect(!AddressPolicy().allows(address))
        #expect(AddressPolicy(allowPrivate: true).allows(address) == (category != .metadata))
    }

    @Test(arguments: ["93.184.216.34", "8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0", "172.15.0.1", "172.32.0.1", "169.253.0.1",
                      "192.167.1.1", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"])
    func publicAddressesAreAllowed(text: String) throws {
        let address = try #require(IPAddress(text))
        #expect(AddressPolicy.category(of: address) == nil)
        #expect(AddressPolicy().allows(address))
    }

    @Test func addressesPrintCanonically() throws {
        #expect(IPAddress("010.1.1.1") == nil)
        #expect(IPAddress("127.1") == nil)
        #expect(IPAddress("fe80::1%eth0") == nil)
        #expect(try #require(IPAddress("2001:DB8:0:0::1")).description == "2001:db8::1")
        #expect(try #require(IPAddress("192.0.2.1")).description == "192.0.2.1")
        #expect(try #require(IPAddress("::ffff:7f00:1")).description == "::ffff:127.0.0.1")
    }

    @Test func theFirstRefusedAddressOfAListIsReported() throws {
        let policy = AddressPolicy()
        let list = try ["93.184.216.34", "10.0.0.7"].map { try #require(IPAddress($0)) }
        let refused = try #require(policy.firstRefused(in: list))
        #expect(refused.0 == IPAddress("10.0.0.7"))
        #expect(refused.1 == .private)
        #expect(policy.firstRefused(in: [try #require(IPAddress("8.8.4.4"))]) == nil)
    }
}
