/// Why a QR Code could not be made; never carries the input, which may be a pairing secret.
public struct QRCodeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String {
            case dataTooLong = "data_too_long"
            case invalidMinimumVersion = "invalid_minimum_version"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The input does not fit version 40 (or below) at the requested correction level.
        public static let dataTooLong = Code(.dataTooLong)
        /// `minimumVersion` was outside 1...40.
        public static let invalidMinimumVersion = Code(.invalidMinimumVersion)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// Characters (numeric, alphanumeric) or bytes the input had.
    public let length: Int
    public let correction: ErrorCorrection

    public var description: String {
        "QRCodeError(\(code), length: \(length), correction: \(correction))"
    }
}
