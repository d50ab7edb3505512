using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace PatchCore.IO;

/// <summary>
/// Write-then-rename, so a crash or an error never leaves a half-written file under the final name.
/// The bytes go to a temp file in the target folder (same file system, so the rename is atomic), named
/// <c>.&lt;name&gt;.pcnative-tmp-&lt;pid&gt;-&lt;random&gt;</c>; the file is flushed to disk before the rename and the
/// folder after it, so after a power loss the target holds either the old or the new bytes, never a mix.
/// A killed process can still leave its temp behind; <see cref="RemoveStale"/> recognises those by the name.
/// </summary>
public static class AtomicFile
{
    /// <summary>The part of a temp file's name that says it is ours.</summary>
    public const string TempMarker = ".pcnative-tmp-";

    /// <summary>A temp file whose writer is still alive is left alone this long: a live writer may be slow
    /// (a large model file) and its pid may have been reused by another process, so age is the fallback.</summary>
    public static readonly TimeSpan StaleAge = TimeSpan.FromHours(1);

    /// <param name="syncDirectory">false when the caller writes many files into a folder and syncs the folder once
    /// afterwards (<see cref="SyncDirectory"/>): the rename is durable only after that.</param>
    public static void Write(string path, Action<Stream> write, bool syncDirectory = true)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        string tmp = Path.Combine(dir, TempName(Path.GetFileName(full)));
        try
        {
            using (var s = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(s);
                if (s.CanWrite) s.Flush(flushToDisk: true);
                else FlushToDisk(tmp); // the writer closed the stream itself: its bytes reached the OS, not yet the disk
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
        if (syncDirectory) SyncDirectory(dir);
    }

    public static void WriteAllText(string path, string text) =>
        Write(path, s => { using var w = new StreamWriter(s, new UTF8Encoding(false), bufferSize: -1, leaveOpen: true); w.Write(text); });

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes, bool syncDirectory = true)
    {
        byte[] copy = bytes.ToArray();
        Write(path, s => s.Write(copy), syncDirectory);
    }

    /// <summary>fsync through a fresh handle: it syncs the file, whichever handle wrote the bytes.</summary>
    static void FlushToDisk(string file)
    {
        using var again = new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        again.Flush(flushToDisk: true);
    }

    /// <summary>Temp name for a target file name: hidden, the target's name first (so a listing shows what it
    /// was for), then the marker, the writer's pid (so <see cref="RemoveStale"/> can ask whether it still runs)
    /// and a random part (so parallel writers of one target never collide).</summary>
    internal static string TempName(string fileName) =>
        "." + fileName + TempMarker + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>Delete temp files of this naming scheme in <paramref name="folder"/> (not below it) left by
    /// killed writes: those whose writer process is gone, or older than <see cref="StaleAge"/>. Best-effort:
    /// a file that vanishes or cannot be deleted meanwhile is skipped. Returns how many were deleted.</summary>
    public static int RemoveStale(string folder)
    {
        if (!Directory.Exists(folder)) return 0;
        int removed = 0;
        foreach (string file in Directory.EnumerateFiles(folder, "*" + TempMarker + "*"))
        {
            if (!IsStale(file)) continue;
            try { File.Delete(file); removed++; }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return removed;
    }

    static bool IsStale(string file)
    {
        string name = Path.GetFileName(file);
        int at = name.LastIndexOf(TempMarker, StringComparison.Ordinal);
        if (!name.StartsWith('.') || at < 0) return false;
        string rest = name[(at + TempMarker.Length)..];
        int dash = rest.IndexOf('-');
        if (dash <= 0 || !int.TryParse(rest.AsSpan(0, dash), out int pid)) return false;
        DateTime written;
        try { written = File.GetLastWriteTimeUtc(file); }
        catch (IOException) { return false; }
        return !ProcessAlive(pid) || DateTime.UtcNow - written > StaleAge;
    }

    static bool ProcessAlive(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; } // no such process
        catch (InvalidOperationException) { return false; }
    }

    /// <summary>fsync the folder so the rename itself survives a power loss (POSIX keeps directory entries
    /// in the folder's own metadata). Windows has no such call for folders (NTFS journals renames), so it is
    /// skipped there; on POSIX a failure is ignored too, the file's own bytes are already on disk.</summary>
    /// <returns>whether the folder was synced (tests check it is on Linux).</returns>
    /// <summary>fsync a folder, so that the renames into it survive a crash (false where that cannot be done).</summary>
    public static bool SyncDirectory(string dir) => !OperatingSystem.IsWindows() && Posix.SyncDirectory(dir);

    /// <summary>open/fsync/close from the C library, found at first use. Not [DllImport("libc")]: on glibc
    /// "libc.so" may be a linker script (or absent without the dev package), so the name is probed here and a
    /// missing library only turns the folder sync off. .NET cannot open a folder as a FileStream.</summary>
    static unsafe class Posix
    {
        static readonly delegate* unmanaged<byte*, int, int> Open;
        static readonly delegate* unmanaged<int, int> Fsync;
        static readonly delegate* unmanaged<int, int> Close;

        static Posix()
        {
            foreach (string name in (string[])["libc.so.6", "libc.so", "libSystem.dylib", "libc"])
            {
                if (!NativeLibrary.TryLoad(name, out nint lib)) continue;
                if (NativeLibrary.TryGetExport(lib, "open", out nint open) && NativeLibrary.TryGetExport(lib, "fsync", out nint fsync)
                    && NativeLibrary.TryGetExport(lib, "close", out nint close))
                {
                    Open = (delegate* unmanaged<byte*, int, int>)open;
                    Fsync = (delegate* unmanaged<int, int>)fsync;
                    Close = (delegate* unmanaged<int, int>)close;
                    return;
                }
            }
        }

        /// <summary>True when the folder was synced.</summary>
        internal static bool SyncDirectory(string dir)
        {
            if (Open == null) return false;
            byte[] path = Encoding.UTF8.GetBytes(dir + "\0");
            int fd;
            fixed (byte* p = path) fd = Open(p, 0 /* O_RDONLY: enough to fsync a folder */);
            if (fd < 0) return false;
            int rc = Fsync(fd);
            Close(fd);
            return rc == 0;
        }
    }
}
