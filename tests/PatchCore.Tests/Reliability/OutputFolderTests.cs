using System.Diagnostics;
using PatchCore.Pipeline;

namespace PatchCore.Tests.Reliability;

/// <summary>A run writes into a freshly claimed folder and publishes it complete (<see cref="OutputFolder"/>).</summary>
public class OutputFolderTests
{
    static readonly DateTime Noon = new(2026, 12, 1, 12, 0, 0);

    [Fact]
    public void ResultsAppearOnlyAtPublish()
    {
        string parent = TestPaths.TempDir();
        using var f = OutputFolder.Claim(null, parent, now: Noon);
        Assert.Equal(Path.Combine(parent, "20261201-120000"), f.FinalPath);
        Assert.NotEqual(f.FinalPath, f.WorkPath);
        Assert.StartsWith(".20261201-120000.partial-", Path.GetFileName(f.WorkPath));
        File.WriteAllText(Path.Combine(f.WorkPath, "results.json"), "{}");
        Assert.False(Directory.Exists(f.FinalPath));
        f.Publish();
        Assert.True(File.Exists(Path.Combine(f.FinalPath, "results.json")));
        Assert.Equal([f.FinalPath], Directory.GetFileSystemEntries(parent)); // no claim, no work folder left
    }

    [Fact]
    public void TwoClaimsInTheSameSecondGetTwoFolders()
    {
        string parent = TestPaths.TempDir();
        const int n = 8;
        var folders = new OutputFolder[n];
        using var start = new Barrier(n);
        var threads = Enumerable.Range(0, n).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            folders[i] = OutputFolder.Claim(null, parent, now: Noon);
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(n, folders.Select(f => f.FinalPath).Distinct().Count());
        Assert.Contains(folders, f => f.FinalPath.EndsWith("20261201-120000", StringComparison.Ordinal));
        Assert.Contains(folders, f => f.FinalPath.EndsWith("20261201-120000-2", StringComparison.Ordinal));
        foreach (var f in folders) f.Publish();
        Assert.Equal(n, Directory.GetDirectories(parent).Length);

        // A later claim in the same second skips the published names too.
        using var next = OutputFolder.Claim(null, parent, now: Noon);
        Assert.EndsWith($"20261201-120000-{n + 1}", next.FinalPath);
    }

    [Fact]
    public void AFailedCommandLeavesNothingAndAKilledOnesLeftoversAreRemovedNextTime()
    {
        string parent = TestPaths.TempDir();
        using (var f = OutputFolder.Claim(null, parent, now: Noon))
            File.WriteAllText(Path.Combine(f.WorkPath, "half.png"), "x"); // no Publish: the command failed
        Assert.Empty(Directory.GetFileSystemEntries(parent));

        int dead = DeadPid();
        string partial = Path.Combine(parent, $".20261201-110000.partial-{dead}");
        Directory.CreateDirectory(partial);
        File.WriteAllText(Path.Combine(partial, "scores.csv"), "half");
        File.WriteAllText(Path.Combine(parent, ".20261201-110000.claim"), dead.ToString());
        string live = Path.Combine(parent, $".other.partial-{Environment.ProcessId}"); // a live command's: kept
        Directory.CreateDirectory(live);
        using (var g = OutputFolder.Claim(null, parent, now: Noon)) g.Publish();
        Assert.False(Directory.Exists(partial));
        Assert.False(File.Exists(Path.Combine(parent, ".20261201-110000.claim")));
        Assert.True(Directory.Exists(live));
    }

    [Fact]
    public void RequestedFolderRules()
    {
        string parent = TestPaths.TempDir();
        string dir = Path.Combine(parent, "out");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "old.txt"), "old");
        var e = Assert.Throws<IOException>(() => OutputFolder.Claim(dir, parent));
        Assert.Contains("--out", e.Message);
        Assert.Contains("not empty", e.Message);

        using (var f = OutputFolder.Claim(dir, parent, overwrite: true))
        {
            Assert.True(File.Exists(Path.Combine(dir, "old.txt"))); // replaced at publish, not before
            // A second command into the same folder while the first one runs is refused.
            var busy = Assert.Throws<IOException>(() => OutputFolder.Claim(dir, parent, overwrite: true));
            Assert.Contains("another pcnative command", busy.Message);
            File.WriteAllText(Path.Combine(f.WorkPath, "new.txt"), "new");
            f.Publish();
        }
        Assert.Equal(["new.txt"], Directory.GetFiles(dir).Select(Path.GetFileName));
        Assert.Equal([dir], Directory.GetFileSystemEntries(parent));
    }

    [Fact]
    public void FileTargetsAreCheckedWithoutLeavingAnything()
    {
        string parent = TestPaths.TempDir();
        OutputFolder.CheckFileTarget(Path.Combine(parent, "sub", "m.pcm"), "--model");
        Assert.Empty(Directory.GetFiles(Path.Combine(parent, "sub")));
        Assert.Contains("is a folder", Assert.Throws<IOException>(() => OutputFolder.CheckFileTarget(parent, "--model")).Message);
    }

    /// <summary>The pid of a process that has exited (a finished child of ours).</summary>
    static int DeadPid()
    {
        using var p = Process.Start(new ProcessStartInfo("dotnet", "--version") { RedirectStandardOutput = true })!;
        p.WaitForExit();
        return p.Id;
    }
}
