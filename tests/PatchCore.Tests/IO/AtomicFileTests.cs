using System.Text;
using PatchCore.IO;

namespace PatchCore.Tests.IO;

public class AtomicFileTests
{
    static string[] Names(string dir)
    {
        var names = Directory.GetFiles(dir).Select(Path.GetFileName).ToArray();
        Array.Sort(names, StringComparer.Ordinal);
        return names!;
    }

    [Fact]
    public void AFailingWriterLeavesNoFileAndNoTemp()
    {
        string dir = TestPaths.TempDir();
        string path = Path.Combine(dir, "out.bin");
        var e = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[100_000]);
            throw new InvalidOperationException("writer failed");
        }));
        Assert.Equal("writer failed", e.Message);
        Assert.Empty(Directory.GetFiles(dir));

        File.WriteAllText(path, "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.WriteAllText(path, Fail()));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal(["out.bin"], Names(dir));
    }

    static string Fail() => throw new InvalidOperationException("no text");

    [Fact]
    public void TheTargetIsReplacedOnlyOnceTheNewBytesAreComplete()
    {
        string dir = TestPaths.TempDir();
        string path = Path.Combine(dir, "scores.csv");
        AtomicFile.WriteAllText(path, "old contents\n");
        string? tempSeen = null;
        AtomicFile.Write(path, s =>
        {
            s.Write(Encoding.UTF8.GetBytes("new "));
            // Mid-write, readers still see the whole old file; the new bytes go to a recognisable temp beside it.
            Assert.Equal("old contents\n", File.ReadAllText(path));
            tempSeen = Assert.Single(Names(dir), n => n != "scores.csv");
            s.Write(Encoding.UTF8.GetBytes("contents\n"));
        });
        Assert.Equal("new contents\n", File.ReadAllText(path));
        Assert.Equal(["scores.csv"], Names(dir));
        Assert.StartsWith(".scores.csv" + AtomicFile.TempMarker + Environment.ProcessId + "-", tempSeen);
    }

    [Fact]
    public void WritersThatCloseTheStreamAndTheHelpersWriteEveryByte()
    {
        string dir = TestPaths.TempDir();
        string a = Path.Combine(dir, "sub", "a.txt"), b = Path.Combine(dir, "b.bin"), c = Path.Combine(dir, "c.txt");
        AtomicFile.WriteAllText(a, "héllo\n"); // creates the folder; UTF-8 without BOM
        Assert.Equal(Encoding.UTF8.GetBytes("héllo\n"), File.ReadAllBytes(a));
        AtomicFile.WriteAllBytes(b, [1, 2, 3]);
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(b));
        AtomicFile.Write(c, s => { using var w = new StreamWriter(s); w.Write("closed by the writer"); });
        Assert.Equal("closed by the writer", File.ReadAllText(c));
        Assert.Equal(["b.bin", "c.txt"], Names(dir));
    }

    [Fact]
    public void RemoveStaleDeletesOnlyOurTempsOfDeadOrOldWriters()
    {
        string dir = TestPaths.TempDir();
        string M = AtomicFile.TempMarker;
        int me = Environment.ProcessId;
        const int deadPid = int.MaxValue - 1; // above any pid_max: no such process
        string Touch(string name, TimeSpan age)
        {
            string p = Path.Combine(dir, name);
            File.WriteAllText(p, "x");
            File.SetLastWriteTimeUtc(p, DateTime.UtcNow - age);
            return name;
        }
        var fresh = TimeSpan.Zero;
        var old = AtomicFile.StaleAge + TimeSpan.FromMinutes(5);
        Touch($".a.png{M}{deadPid}-0123abcd", fresh);     // writer gone: stale
        Touch($".b.png{M}{me}-0123abcd", old);            // alive but older than StaleAge: stale
        string live = Touch($".c.png{M}{me}-0123abcd", fresh);  // a write in progress: kept
        string[] others =
        [
            Touch("a.png", old),                          // a real output
            Touch($".d.png{M}notapid-0123abcd", old),     // not our naming scheme
            Touch(".e.png.0123abcd.tmp", old),            // someone else's temp
            Touch($"f.png{M}{deadPid}-0123abcd", old),    // ours are hidden (leading dot)
        ];
        Assert.Equal(2, AtomicFile.RemoveStale(dir));
        var expected = others.Append(live).ToArray();
        Array.Sort(expected, StringComparer.Ordinal);
        Assert.Equal(expected, Names(dir));
        Assert.Equal(0, AtomicFile.RemoveStale(Path.Combine(dir, "absent")));
    }

    [Fact]
    public void TempsOfAKilledWriteAreRecognisedByTheirName()
    {
        // What a write leaves when its process dies between create and rename: a temp named by TempName.
        string dir = TestPaths.TempDir();
        string tmp = Path.Combine(dir, AtomicFile.TempName("model.pcm"));
        File.WriteAllText(tmp, "half");
        File.SetLastWriteTimeUtc(tmp, DateTime.UtcNow - AtomicFile.StaleAge - TimeSpan.FromMinutes(1));
        Assert.Equal(1, AtomicFile.RemoveStale(dir));
        Assert.Empty(Directory.GetFiles(dir));
    }

    [Fact]
    public void TheFolderIsSyncedOnLinux()
    {
        if (!OperatingSystem.IsLinux()) return; // Windows has no folder fsync; elsewhere it is best-effort
        Assert.True(AtomicFile.SyncDirectory(TestPaths.TempDir()), "open/fsync of a folder through the C library failed");
        Assert.False(AtomicFile.SyncDirectory(Path.Combine(TestPaths.TempDir(), "absent")));
    }
}
