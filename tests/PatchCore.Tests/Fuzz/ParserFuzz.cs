using System.Diagnostics;
using CsCheck;

namespace PatchCore.Tests.Fuzz;

/// <summary>One edit of a valid file. Offsets are raw draws, reduced modulo the current length when applied,
/// so an edit list stays meaningful after earlier edits changed the length.</summary>
public readonly record struct Edit(int Kind, uint At, uint Length, int Value, uint From, bool Focused)
{
    public override string ToString() => $"{(EditKind)Kind}(at {At}{(Focused ? " focused" : "")}, len {Length}, value {Value}, from {From})";
}

public enum EditKind { FlipBit, SetByte, Integer, Truncate, Delete, Duplicate, Splice, Random, Append }

/// <summary>
/// Mutation fuzzing of a parser (issue 12 item 7): start from a valid file made by the test, apply 1-4 random
/// edits (bit flips, bytes, 1/2/4/8-byte integers such as -1, 2^31-1, 2^63-1 or the file's own length in
/// either byte order, truncation, deleted / duplicated / spliced chunks, random bytes), parse, and require
/// <list type="bullet">
/// <item>a valid result (checked by the test), or a clean error: an exception the CLI prints as one line
/// (<see cref="InvalidDataException"/> unless the test allows more), whose message is one line without NUL
/// bytes and names the input, never IndexOutOfRange / NullReference / Overflow / OutOfMemory /
/// ArgumentOutOfRange / EndOfStream;</item>
/// <item>no more managed allocation than a budget (declared sizes must be checked against the file);</item>
/// <item>an answer within <see cref="TimeLimit"/> (no hang).</item>
/// </list>
/// The edits are drawn with CsCheck generators from a fixed PCG seed, so CI runs the same cases every time;
/// <c>PCNATIVE_FUZZ_ITER</c> multiplies the iteration counts for a longer local run. A failure names the case's
/// PCG state and its edits.
/// </summary>
public static class ParserFuzz
{
    public const string IterationsVariable = "PCNATIVE_FUZZ_ITER";

    /// <summary>Per-case limit; parsing a few-KB file takes microseconds, so this only catches hangs.</summary>
    public static readonly TimeSpan TimeLimit = TimeSpan.FromSeconds(10);

    /// <summary>CI's count, times PCNATIVE_FUZZ_ITER when set (e.g. 20 for the local soak).</summary>
    public static int Iterations(int ci) =>
        int.TryParse(Environment.GetEnvironmentVariable(IterationsVariable), out int k) && k > 0 ? ci * k : ci;

    static readonly long[] Interesting =
        [0, 1, -1, 2, 7, 8, 127, 128, 255, 256, 0x7FFF, 0x8000, 0xFFFF, 0x10000, int.MaxValue, int.MinValue,
         uint.MaxValue, 1L << 32, 1L << 40, long.MaxValue, long.MinValue];

    static readonly Gen<Edit> EditGen =
        Gen.Select(Gen.Int[0, 8], Gen.UInt, Gen.UInt, Gen.Int[0, 1 << 20], Gen.UInt, Gen.Int[0, 9],
            (kind, at, length, value, from, focus) => new Edit(kind, at, length, value, from, focus < 8));

    public static readonly Gen<Edit[]> Edits = EditGen.Array[1, 4];

    /// <summary>Apply edits; <paramref name="focus"/> bytes at the start (the header) get 80% of the offsets.</summary>
    public static byte[] Apply(byte[] valid, Edit[] edits, int focus)
    {
        var b = new List<byte>(valid);
        foreach (var e in edits)
        {
            int n = b.Count;
            int span = e.Focused ? Math.Min(focus, n) : n;
            int at = span == 0 ? 0 : (int)(e.At % (uint)span);
            int len = e.Length % 8 == 0 ? (int)(e.Length % (uint)Math.Max(n, 1)) : 1 + (int)(e.Length % 16);
            switch ((EditKind)e.Kind)
            {
                case EditKind.FlipBit when n > 0: b[at] ^= (byte)(1 << (e.Value & 7)); break;
                case EditKind.SetByte when n > 0: b[at] = (byte)e.Value; break;
                case EditKind.Integer when n > 0:
                {
                    int pick = e.Value % (Interesting.Length + 3);
                    long v = pick < Interesting.Length ? Interesting[pick] : n + (pick - Interesting.Length - 1); // length -1, 0, +1
                    int width = 1 << (int)(e.Length % 4);
                    bool bigEndian = (e.Length / 4 & 1) == 1;
                    for (int i = 0; i < width && at + i < n; i++)
                        b[at + i] = (byte)(v >> (8 * (bigEndian ? width - 1 - i : i)));
                    break;
                }
                case EditKind.Truncate: b.RemoveRange(at, n - at); break;
                case EditKind.Delete when n > 0: b.RemoveRange(at, Math.Min(len, n - at)); break;
                case EditKind.Duplicate when n > 0:
                {
                    int from = (int)(e.From % (uint)n);
                    b.InsertRange(at, b.GetRange(from, Math.Min(len, n - from)));
                    break;
                }
                case EditKind.Splice when n > 0:
                {
                    int from = (int)(e.From % (uint)n);
                    var chunk = b.GetRange(from, Math.Min(len, n - from));
                    for (int i = 0; i < chunk.Count && at + i < n; i++) b[at + i] = chunk[i];
                    break;
                }
                case EditKind.Random when n > 0:
                {
                    var rng = new Random(e.Value);
                    for (int i = 0; i < len && at + i < n; i++) b[at + i] = (byte)rng.Next(256);
                    break;
                }
                case EditKind.Append:
                {
                    var rng = new Random(e.Value);
                    for (int i = 0; i < len; i++) b.Add((byte)rng.Next(256));
                    break;
                }
            }
        }
        return b.ToArray();
    }

    /// <summary>Whether an exception is one the CLI turns into a one-line error (Program.cs), of a type a parser
    /// means to throw: InvalidDataException, plus whatever <paramref name="alsoClean"/> allows (exact types,
    /// so an ArgumentOutOfRangeException never passes as an ArgumentException).</summary>
    public static bool IsClean(Exception e, Type[] alsoClean) =>
        e is InvalidDataException || Array.IndexOf(alsoClean, e.GetType()) >= 0;

    /// <summary>
    /// Run <paramref name="iterations"/> mutated cases of <paramref name="valid"/> through <paramref name="parse"/>
    /// (which receives the mutated bytes and the name errors must mention). <paramref name="check"/> validates a
    /// successful result. Returns (cases that parsed, cases refused cleanly) so a test can show both happened.
    /// </summary>
    public static (int Parsed, int Refused) Run<T>(string what, byte[] valid, int focus, int iterations,
        Func<byte[], T> parse, Action<T>? check = null, Type[]? alsoClean = null, long allocationBudget = 64L << 20,
        ulong seed = 20261201, string? mustName = null)
    {
        alsoClean ??= [];
        // The unmutated file must parse, or every "refused" below proves nothing.
        var original = parse(valid);
        check?.Invoke(original);

        var pcg = new PCG(1, seed);
        int parsed = 0, refused = 0;
        for (int i = 0; i < iterations; i++)
        {
            string state = pcg.ToString();
            var edits = Edits.Generate(pcg, null!, out _);
            var input = Apply(valid, edits, focus);
            string Case() => $"{what}: case {i} (PCG {state}; {input.Length} bytes; edits {string.Join(", ", edits)})";

            Exception? error = null;
            long allocated = 0;
            var sw = Stopwatch.StartNew();
            var task = Task.Factory.StartNew(() =>
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    var result = parse(input);
                    check?.Invoke(result);
                }
                catch (Exception e) { error = e; }
                allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            if (!task.Wait(TimeLimit)) Assert.Fail($"{Case()}: no answer within {TimeLimit.TotalSeconds} s (hang)");
            if (error != null)
            {
                if (!IsClean(error, alsoClean))
                    Assert.Fail($"{Case()}: unclean {error.GetType().Name}: {error.Message}\n{error.StackTrace}");
                string m = error.Message;
                if (m.Length == 0 || m.Contains('\n') || m.Contains('\0'))
                    Assert.Fail($"{Case()}: error message is not one clean line: {m.Replace("\0", "\\0")}");
                if (mustName != null && error is InvalidDataException && !m.Contains(mustName))
                    Assert.Fail($"{Case()}: error does not name '{mustName}': {m}");
                refused++;
            }
            else parsed++;
            if (allocated > allocationBudget)
                Assert.Fail($"{Case()}: allocated {allocated:N0} bytes, more than the budget {allocationBudget:N0} ({sw.Elapsed.TotalMilliseconds:F0} ms)");
        }
        return (parsed, refused);
    }
}
