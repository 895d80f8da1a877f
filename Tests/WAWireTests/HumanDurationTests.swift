import WAWire
import Testing

@Suite("Durations as people write them")
struct HumanDurationTests {
    @Test func zeroAndWhatRoundsToItAreZeroSeconds() {
        #expect(HumanDuration.format(.zero) == "0 s")
        #expect(HumanDuration.format(.nanoseconds(400)) == "0 s")
        #expect(HumanDuration.format(.nanoseconds(-400)) == "0 s", "no minus sign on nothing")
    }

    @Test func belowAMillisecondInMicroseconds() {
        #expect(HumanDuration.format(.nanoseconds(600)) == "1 µs")
        #expect(HumanDuration.format(.microseconds(250)) == "250 µs")
        #expect(HumanDuration.format(.nanoseconds(999_400)) == "999 µs")
        #expect(HumanDuration.format(.nanoseconds(999_600)) == "1 ms", "rounding carries into the next unit")
    }

    @Test func belowASecondInMilliseconds() {
        #expect(HumanDuration.format(.milliseconds(186)) == "186 ms")
        #expect(HumanDuration.format(.microseconds(999_600)) == "1 s")
    }

    @Test func negativeDurationsKeepTheirSign() {
        // `pairgate link` printed "server clock offset -0.18587827682495117 seconds".
        #expect(HumanDuration.format(.seconds(-0.18587827682495117)) == "\u{2212}186 ms")
        #expect(HumanDuration.format(.seconds(-159.87)) == "\u{2212}2 min 40 s")
        #expect(HumanDuration.format(.microseconds(-20)) == "\u{2212}20 µs")
    }

    @Test func secondsWithATenthBelowTenThenWhole() {
        #expect(HumanDuration.format(.seconds(1)) == "1 s")
        #expect(HumanDuration.format(.milliseconds(2500)) == "2.5 s")
        #expect(HumanDuration.format(.milliseconds(9960)) == "10 s")
        #expect(HumanDuration.format(.seconds(42.4)) == "42 s")
    }

    @Test func minutesAndSecondsBelowAnHour() {
        // `pairgate link` printed "valid for 159.87174773216248 seconds".
        #expect(HumanDuration.format(.seconds(159.87174773216248)) == "2 min 40 s")
        #expect(HumanDuration.format(.seconds(60)) == "1 min")
        #expect(HumanDuration.format(.seconds(59.7)) == "1 min")
        #expect(HumanDuration.format(.seconds(3599.4)) == "59 min 59 s")
    }

    @Test func hoursAndMinutesFromAnHour() {
        #expect(HumanDuration.format(.seconds(3599.6)) == "1 h")
        #expect(HumanDuration.format(.seconds(3725)) == "1 h 2 min")
        #expect(HumanDuration.format(.seconds(26 * 3600 + 59 * 60 + 40)) == "27 h")
        #expect(HumanDuration.format(.seconds(-7200)) == "\u{2212}2 h")
    }
}
