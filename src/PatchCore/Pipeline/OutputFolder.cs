using System.Diagnostics;
using System.Globalization;

namespace PatchCore.Pipeline;

/// <summary>
/// The folder a command writes its results into, claimed before any compute and published complete.
/// <list type="bullet">
/// <item>Claim: the final name is reserved by a claim file <c>.&lt;name&gt;.claim</c> created exclusively
/// (FileMode.CreateNew is atomic on every file system, unlike Directory.CreateDirectory, which succeeds on an
/// existing folder); it holds the owner's pid. Two runs started in the same second therefore never share a
/// folder: the default name <c>&lt;yyyyMMdd-HHmmss&gt;</c> becomes <c>-2</c>, <c>-3</c> … when taken.</item>
/// <item>The command writes into the sibling work folder <c>.&lt;name&gt;.partial-&lt;pid&gt;</c>; creating it is
/// also the probe that the parent is writable, so an unwritable output fails in a second, not after the fit.</item>
/// <item><see cref="Publish"/> renames the work folder to the final name (an <c>--overwrite</c>n folder is moved
/// aside and deleted only then), so a reader never sees a half-written result, and old and new files never mix.</item>
/// <item>A failed command (exception) removes its work folder and claim (<see cref="Dispose"/>); a killed one
/// leaves them, recognisable by name, and the next claim in the same parent removes those whose pid is dead.</item>
/// </list>
/// </summary>
public sealed class OutputFolder : IDisposable
{
    const string PartialTag = ".partial-";
    const string ClaimSuffix = ".claim";
    const string OldTag = ".old-";
    /// <summary>Default names tried per second before giving up (each is one exclusive file creation).</summary>
    const int MaxSuffix = 1000;

    readonly string _claim;
    readonly bool _overwrite;
    bool _published;

    /// <summary>Where the results end up (absolute).</summary>
    public string FinalPath { get; }
    /// <summary>Where the command writes until <see cref="Publish"/>.</summary>
    public string WorkPath { get; }

    OutputFolder(string final, string work, string claim, bool overwrite)
    {
        FinalPath = final; WorkPath = work; _claim = claim; _overwrite = overwrite;
    }

    /// <summary>Claim a fresh folder: <paramref name="requested"/> (the <paramref name="flag"/> value) if given,
    /// else a new time-stamped folder under <paramref name="defaultParent"/>. A requested folder that exists
    /// must be empty unless <paramref name="overwrite"/>; one that is a file, or that another live command is
    /// writing, is refused. Errors are one line naming the flag and the folder.</summary>
    public static OutputFolder Claim(string? requested, string defaultParent, bool overwrite = false, string flag = "--out",
        DateTime? now = null)
    {
        if (requested != null)
        {
            if (string.IsNullOrWhiteSpace(requested)) throw new IOException($"{flag}: empty folder name");
            string full = Path.GetFullPath(requested);
            string trimmed = Path.TrimEndingDirectorySeparator(full);
            string? parent = Path.GetDirectoryName(trimmed);
            string name = Path.GetFileName(trimmed);
            if (parent == null || name.Length == 0) throw new IOException($"{flag} {requested}: cannot write results into a file-system root; name a folder");
            if (File.Exists(trimmed)) throw new IOException($"{flag} {requested}: is a file, not a folder");
            if (Directory.Exists(trimmed) && !overwrite && Directory.EnumerateFileSystemEntries(trimmed).Any())
                throw new IOException($"{flag} {requested}: folder is not empty (add --overwrite to replace its contents, or choose another folder)");
            PrepareParent(parent, flag, requested);
            return TryClaim(parent, name, overwrite, mustBeNew: false, $"{flag} {requested}", out int owner)
                ?? throw new IOException($"{flag} {requested}: another pcnative command (pid {owner}) is writing this folder");
        }

        string p = Path.GetFullPath(defaultParent);
        PrepareParent(p, "output folder", p);
        string stem = (now ?? DateTime.Now).ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        for (int i = 1; i <= MaxSuffix; i++)
        {
            string name = i == 1 ? stem : $"{stem}-{i}";
            var folder = TryClaim(p, name, overwrite: false, mustBeNew: true, $"output folder {Path.Combine(p, name)}", out _);
            if (folder != null) return folder;
        }
        throw new IOException($"output folder: {MaxSuffix} folders named {stem}* already exist in {p}; pass --out");
    }

    /// <summary>Check, before any compute, that a single output file (a model, a saved config) can be written
    /// at <paramref name="path"/>: not a folder, its folder exists or can be made, and a file can be created
    /// there (created and deleted at once). The file itself is written atomically later.</summary>
    public static void CheckFileTarget(string path, string flag)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new IOException($"{flag}: empty file name");
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new IOException($"{flag} {path}: is a folder; give a file name");
        string parent = Path.GetDirectoryName(full) ?? throw new IOException($"{flag} {path}: not a file path");
        PrepareParent(parent, flag, path);
        string probe = Path.Combine(parent, $".{Path.GetFileName(full)}.probe-{Environment.ProcessId}");
        try
        {
            using (new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{flag} {path}: cannot write in {parent} ({Reason(e)})");
        }
    }

    /// <summary>Make the results visible under <see cref="FinalPath"/> in one rename.</summary>
    public void Publish()
    {
        if (_published) return;
        string? aside = null;
        try
        {
            if (Directory.Exists(FinalPath))
            {
                if (!Directory.EnumerateFileSystemEntries(FinalPath).Any()) Directory.Delete(FinalPath);
                else if (!_overwrite) throw new IOException("another program filled it while the command ran");
                else
                {
                    aside = Path.Combine(Path.GetDirectoryName(FinalPath)!, $".{Path.GetFileName(FinalPath)}{OldTag}{Environment.ProcessId}");
                    if (Directory.Exists(aside)) Directory.Delete(aside, recursive: true);
                    Directory.Move(FinalPath, aside);
                }
            }
            Directory.Move(WorkPath, FinalPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The work folder holds the only copy of the results: Dispose must not delete it.
            _published = true;
            TryDelete(_claim);
            if (aside != null && !Directory.Exists(FinalPath))
                try { Directory.Move(aside, FinalPath); } catch (Exception e2) when (e2 is IOException or UnauthorizedAccessException) { }
            throw new IOException($"{FinalPath}: could not publish the results ({Reason(e)}); they are in {WorkPath} (move them out: the next run in that folder removes it)");
        }
        _published = true;
        TryDelete(_claim);
        if (aside != null) TryDeleteTree(aside);
    }

    /// <summary>Without <see cref="Publish"/> (the command failed): remove the work folder and the claim.</summary>
    public void Dispose()
    {
        if (_published) return;
        TryDeleteTree(WorkPath);
        TryDelete(_claim);
        _published = true;
    }

    static OutputFolder? TryClaim(string parent, string name, bool overwrite, bool mustBeNew, string label, out int owner)
    {
        owner = 0;
        string final = Path.Combine(parent, name);
        if (mustBeNew && Path.Exists(final)) return null;
        string claim = Path.Combine(parent, "." + name + ClaimSuffix);
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                using var fs = new FileStream(claim, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
                fs.Write(System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture)));
                break;
            }
            catch (UnauthorizedAccessException e)
            {
                throw new IOException($"{label}: cannot write in {parent} ({Reason(e)})");
            }
            catch (IOException) when (File.Exists(claim))
            {
                // Taken, unless its owner was killed before it could clean up.
                owner = ClaimOwner(claim);
                if (attempt > 0 || owner == 0 || IsAlive(owner)) return null;
                TryDelete(claim);
            }
            catch (IOException e)
            {
                throw new IOException($"{label}: cannot write in {parent} ({Reason(e)})");
            }
        }
        // A command that published this name between our check and our claim removed its claim only after its
        // rename, so the name is visible now.
        if (mustBeNew && Path.Exists(final)) { TryDelete(claim); return null; }
        string work = Path.Combine(parent, $".{name}{PartialTag}{Environment.ProcessId}");
        try
        {
            if (Directory.Exists(work)) Directory.Delete(work, recursive: true); // our pid's, from a reused pid
            Directory.CreateDirectory(work);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(claim);
            throw new IOException($"{label}: cannot write in {parent} ({Reason(e)})");
        }
        return new OutputFolder(final, work, claim, overwrite);
    }

    /// <summary>Create the parent (with a message naming what is in the way), then remove what killed
    /// commands left there.</summary>
    static void PrepareParent(string parent, string flag, string shown)
    {
        string? blocker = FileInTheWay(parent);
        if (blocker != null) throw new IOException($"{flag} {shown}: {blocker} is a file, not a folder");
        try { Directory.CreateDirectory(parent); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{flag} {shown}: cannot create folder {parent} ({Reason(e)})");
        }
        RemoveDead(parent);
    }

    /// <summary>The nearest existing ancestor (or the path itself) when it is a file.</summary>
    static string? FileInTheWay(string path)
    {
        for (string? p = path; p != null; p = Path.GetDirectoryName(p))
        {
            if (Directory.Exists(p)) return null;
            if (File.Exists(p)) return p;
        }
        return null;
    }

    /// <summary>Work folders, moved-aside folders and claims whose owner pid is no longer running.</summary>
    public static void RemoveDead(string parent)
    {
        IEnumerable<string> entries;
        try { entries = Directory.EnumerateFileSystemEntries(parent, ".*").ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }
        foreach (var path in entries)
        {
            string n = Path.GetFileName(path);
            if (n.EndsWith(ClaimSuffix, StringComparison.Ordinal) && File.Exists(path))
            {
                int owner = ClaimOwner(path);
                // An empty claim is one whose owner died between creating and writing it (or is doing so now):
                // only an old one is removed.
                bool dead = owner != 0 ? !IsAlive(owner) : File.GetLastWriteTimeUtc(path) < DateTime.UtcNow.AddMinutes(-1);
                if (dead) TryDelete(path);
                continue;
            }
            int tag = n.LastIndexOf(PartialTag, StringComparison.Ordinal);
            int tagLen = PartialTag.Length;
            if (tag < 0) { tag = n.LastIndexOf(OldTag, StringComparison.Ordinal); tagLen = OldTag.Length; }
            if (tag <= 0 || !Directory.Exists(path)) continue;
            if (int.TryParse(n.AsSpan(tag + tagLen), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && !IsAlive(pid))
                TryDeleteTree(path);
        }
    }

    static int ClaimOwner(string claim)
    {
        try
        {
            return int.TryParse(File.ReadAllText(claim).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? pid : 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return 0; }
    }

    static bool IsAlive(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException) { return false; }
    }

    /// <summary>The OS's reason without .NET's restatement of the path.</summary>
    static string Reason(Exception e) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        _ when e.HResult == 28 || e.Message.Contains("No space", StringComparison.OrdinalIgnoreCase) => "no space left on the device",
        _ when e.Message.Contains("Read-only", StringComparison.OrdinalIgnoreCase) => "read-only file system",
        _ => e.Message.TrimEnd('.'),
    };

    static void TryDelete(string file)
    {
        try { File.Delete(file); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    static void TryDeleteTree(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
