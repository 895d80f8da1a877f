/// Reed–Solomon error correction over GF(256) with the QR field polynomial x⁸+x⁴+x³+x²+1 (0x11D).
enum ReedSolomon {
    /// exp[i] = αⁱ, doubled in length so products of two logarithms need no modulo.
    private static let exp: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 512)
        var value = 1
        for power in 0..<255 {
            table[power] = UInt8(value)
            table[power + 255] = UInt8(value)
            value <<= 1
            if value & 0x100 != 0 {
                value ^= 0x11D
            }
        }
        return table
    }()

    private static let log: [Int] = {
        var table = [Int](repeating: 0, count: 256)
        for power in 0..<255 {
            table[Int(exp[power])] = power
        }
        return table
    }()

    static func multiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
        if a == 0 || b == 0 {
            return 0
        }
        return exp[log[Int(a)] + log[Int(b)]]
    }

    static func power(_ exponent: Int) -> UInt8 {
        exp[exponent % 255]
    }

    /// The coefficients of (x − α⁰)(x − α¹)…(x − α^(degree−1)) below the leading 1, highest power first.
    static func generator(degree: Int) -> [UInt8] {
        var coefficients: [UInt8] = [1]
        for root in 0..<degree {
            let factor = power(root)
            var product = coefficients + [0]
            for index in 1..<product.count {
                product[index] ^= multiply(coefficients[index - 1], factor)
            }
            coefficients = product
        }
        return Array(coefficients.dropFirst())
    }

    /// The remainder of data·x^degree divided by the generator: the error-correction codewords.
    static func remainder(of data: some Collection<UInt8>, generator: [UInt8]) -> [UInt8] {
        var remainder = [UInt8](repeating: 0, count: generator.count)
        guard !generator.isEmpty else { return remainder }
        for byte in data {
            let factor = byte ^ remainder[0]
            for index in 0..<remainder.count - 1 {
                remainder[index] = remainder[index + 1] ^ multiply(generator[index], factor)
            }
            remainder[remainder.count - 1] = multiply(generator[generator.count - 1], factor)
        }
        return remainder
    }
}
