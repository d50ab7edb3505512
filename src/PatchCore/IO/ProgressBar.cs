using System.Diagnostics;

namespace PatchCore.IO;

/// <summary>
/// A progress bar for one long stage, on stderr so stdout stays clean for results. On a terminal it redraws
/// one line; otherwise (logs, CI) it prints plain lines: the start, every quarter, and the end.
/// A null writer makes it silent (tests, library use).
/// </summary>
public sealed class ProgressBar : IDisposable
{
    readonly TextWriter? _w;
    readonly string _label;
    readonly long _total;
    readonly bool _interactive;
    readonly Stopwatch _clock = Stopwatch.StartNew();
    long _done;
    int _lastQuarter = -1;
    long _lastDrawTicks;
    bool _finished;
    readonly object _lock = new();

    public ProgressBar(TextWriter? writer, string label, long total, bool interactive)
    {
        _w = writer; _label = label; _total = Math.Max(1, total); _interactive = interactive;
        Draw(force: true);
    }

    /// <summary>Bars for the process's stderr: interactive when stderr is a terminal.</summary>
    public static ProgressBar Stderr(string label, long total) =>
        new(Console.Error, label, total, !Console.IsErrorRedirected);

    public void Advance(long n = 1)
    {
        lock (_lock)
        {
            _done = Math.Min(_total, _done + n);
            Draw(force: false);
        }
    }

    void Draw(bool force)
    {
        if (_w == null) return;
        double frac = (double)_done / _total;
        double secs = _clock.Elapsed.TotalSeconds;
        if (_interactive)
        {
            long now = _clock.ElapsedTicks;
            if (!force && _done < _total && now - _lastDrawTicks < Stopwatch.Frequency / 10) return;
            _lastDrawTicks = now;
            const int width = 30;
            int filled = (int)(frac * width);
            string eta = _done > 0 && _done < _total ? $" eta {secs / _done * (_total - _done):F0}s" : "";
            _w.Write($"\r{_label,-22} [{new string('#', filled)}{new string('.', width - filled)}] {_done}/{_total} {secs:F1}s{eta}   ");
            _w.Flush();
        }
        else
        {
            int quarter = (int)(frac * 4);
            if (quarter == _lastQuarter || (quarter == 4 && _done < _total)) return;
            _lastQuarter = quarter;
            _w.WriteLine($"{_label}: {_done}/{_total} ({frac * 100:F0}%) {secs:F1}s");
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_finished) return;
            _finished = true;
            if (_w == null) return;
            if (_interactive) { Draw(force: true); _w.WriteLine(); }
            else if (_lastQuarter != 4) _w.WriteLine($"{_label}: {_done}/{_total} {_clock.Elapsed.TotalSeconds:F1}s");
            _w.Flush();
        }
    }
}
