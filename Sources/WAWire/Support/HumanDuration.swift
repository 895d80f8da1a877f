/// Durations as people write them ("2 min 40 s", "−186 ms", "250 µs"), for what the commands print.
public enum HumanDuration {
    /// The largest unit that keeps the number readable, rounded to it: µs below a millisecond,
    /// ms below a second, tenths below ten seconds, then seconds, minutes and seconds, hours and
    /// minutes. A negative duration gets a minus sign (U+2212); anything under half a
    /// microsecond is "0 s".
    public static func format(_ duration: Duration) -> String {
        let (whole, fraction) = duration.components
        let seconds = Double(whole) + Double(fraction) / 1e18
        let text = magnitude(abs(seconds))
        return seconds < 0 && text != "0 s" ? "\u{2212}" + text : text
    }

    private static func magnitude(_ seconds: Double) -> String {
        // Each step rounds to its unit first, so 999.7 ms becomes "1 s", not "1000 ms".
        let microseconds = (seconds * 1e6).rounded()
        if microseconds == 0 {
            return "0 s"
        }
        if microseconds < 1000 {
            return "\(Int(microseconds)) µs"
        }
        let milliseconds = (seconds * 1e3).rounded()
        if milliseconds < 1000 {
            return "\(Int(milliseconds)) ms"
        }
        let tenths = (seconds * 10).rounded()
        if tenths < 100 {
            let value = Int(tenths)
            return value % 10 == 0 ? "\(value / 10) s" : "\(value / 10).\(value % 10) s"
        }
        let wholeSeconds = seconds.rounded()
        if wholeSeconds < 3600 {
            let value = Int(wholeSeconds)
            if value < 60 {
                return "\(value) s"
            }
            return value % 60 == 0 ? "\(value / 60) min" : "\(value / 60) min \(value % 60) s"
        }
        let minutes = Int((seconds / 60).rounded())
        return minutes % 60 == 0 ? "\(minutes / 60) h" : "\(minutes / 60) h \(minutes % 60) min"
    }
}
