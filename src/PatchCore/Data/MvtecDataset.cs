namespace PatchCore.Data;

/// <summary>One test image: its defect type ("good" for normal ones) and, for defects, its mask file.</summary>
public sealed record TestSample(string Path, string DefectType, string? MaskPath)
{
    public bool IsAnomalous => DefectType != "good";
    public int Label => IsAnomalous ? 1 : 0;
}

/// <summary>
/// One category in the MVTec AD layout: &lt;root&gt;/&lt;category&gt;/train/good/*, test/&lt;type&gt;/*,
/// ground_truth/&lt;type&gt;/&lt;name&gt;_mask.png. Discovery only: images are decoded later, and an unreadable
/// one fails then with its file name. Files are listed in ordinal order so runs are reproducible.
/// </summary>
public sealed class MvtecDataset
{
    /// <summary>The 15 MVTec AD categories (grid, screw and zipper are grayscale; ImageFile.Decode makes them RGB).</summary>
    public static readonly string[] MvtecCategories =
    [
        "bottle", "cable", "capsule", "carpet", "grid", "hazelnut", "leather", "metal_nut", "pill", "screw",
        "tile", "toothbrush", "transistor", "wood", "zipper",
    ];

    public const string DataEnvironmentVariable = "PCNATIVE_DATA";
    public const string DefaultRoot = "data/mvtec";
    public const string MvtecUrl = "https://www.mvtec.com/company/research/datasets/mvtec-ad";

    static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg", ".bmp", ".tga", ".tif", ".tiff"];

    public string Root { get; }
    public string Category { get; }
    public string CategoryDir => Path.Combine(Root, Category);
    public IReadOnlyList<string> TrainImages { get; }
    public IReadOnlyList<TestSample> TestSamples { get; }
    /// <summary>False when the category has no ground_truth folder: image metrics only.</summary>
    public bool HasMasks { get; }

    MvtecDataset(string root, string category, List<string> train, List<TestSample> test, bool hasMasks)
    {
        Root = root; Category = category; TrainImages = train; TestSamples = test; HasMasks = hasMasks;
    }

    /// <summary>--data-root, else $PCNATIVE_DATA, else ./data/mvtec.</summary>
    public static string ResolveRoot(string? flag)
    {
        if (!string.IsNullOrWhiteSpace(flag)) return Path.GetFullPath(flag);
        string? env = Environment.GetEnvironmentVariable(DataEnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(env)) return Path.GetFullPath(env);
        return Path.GetFullPath(DefaultRoot);
    }

    /// <summary>Folders under root that look like a category (they hold train/good).</summary>
    public static List<string> FindCategories(string root)
    {
        var found = new List<string>();
        if (!Directory.Exists(root)) return found;
        foreach (var d in Directory.GetDirectories(root))
            if (Directory.Exists(Path.Combine(d, "train", "good"))) found.Add(Path.GetFileName(d));
        found.Sort(StringComparer.Ordinal);
        return found;
    }

    /// <summary>
    /// Lists the category's images. Errors are one line naming the file or folder: missing category (with the
    /// categories that were found), empty train/good, defect image without a mask.
    /// <paramref name="note"/> receives remarks such as "no ground_truth folder: image metrics only".
    /// </summary>
    /// <remarks>Also, before any compute: every mask must have its image's size (a mask of another size would be
    /// resized differently and silently misplace the ground truth), images smaller than a quarter of
    /// <paramref name="crop"/> on a side (or 1x1) are noted by name, and a test folder reached twice through a
    /// link is listed once.</remarks>
    public static MvtecDataset Open(string root, string category, Action<string>? note = null, int crop = 224)
    {
        root = Path.GetFullPath(root);
        string dir = Path.Combine(root, category);
        if (!Directory.Exists(dir))
        {
            var found = FindCategories(root);
            string list = found.Count == 0 ? "none" : string.Join(", ", found);
            string where = Directory.Exists(root) ? root : root + " (folder does not exist)";
            throw new DirectoryNotFoundException($"category '{category}' not found under {where}; categories found: {list}");
        }

        string trainDir = Path.Combine(dir, "train", "good");
        if (!Directory.Exists(trainDir)) throw new DirectoryNotFoundException($"{trainDir}: missing (a category needs train/good)");
        var train = ListImages(trainDir);
        if (train.Count == 0) throw new InvalidDataException($"{trainDir}: no training images");

        string testDir = Path.Combine(dir, "test");
        if (!Directory.Exists(testDir)) throw new DirectoryNotFoundException($"{testDir}: missing (a category needs test/<type>)");
        string gtDir = Path.Combine(dir, "ground_truth");
        bool hasMasks = Directory.Exists(gtDir);
        if (!hasMasks) note?.Invoke($"{category}: no ground_truth folder, so pixel metrics (pixel AUROC, AUPRO) are skipped: image metrics only");

        var test = new List<TestSample>();
        var types = Directory.GetDirectories(testDir).Select(Path.GetFileName).ToList();
        types.Sort(StringComparer.Ordinal);
        var seenDirs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var type in types)
        {
            string typeDir = Path.Combine(testDir, type!);
            if (!seenDirs.Add(RealPath(typeDir)))
            {
                note?.Invoke($"{typeDir}: links to a test folder already listed; skipped");
                continue;
            }
            foreach (var img in ListImages(typeDir))
            {
                string? mask = null;
                if (type != "good" && hasMasks)
                {
                    mask = FindMask(gtDir, type!, img)
                        ?? throw new InvalidDataException($"{img}: defect image without mask (expected {Path.Combine(gtDir, type!, Path.GetFileNameWithoutExtension(img) + "_mask.png")})");
                }
                test.Add(new TestSample(img, type!, mask));
            }
        }
        if (test.Count == 0) throw new InvalidDataException($"{testDir}: no test images");
        CheckSizes(train, test, crop, note);
        return new MvtecDataset(root, category, train, test, hasMasks);
    }

    /// <summary>Mask size against image size (an error naming the mask) and tiny images (noted, at most a few by
    /// name). Reads only the file headers (<see cref="ImageHeader"/>).</summary>
    static void CheckSizes(List<string> train, List<TestSample> test, int crop, Action<string>? note)
    {
        int tinySide = Math.Max(2, crop / 4);
        int tiny = 0;
        void Tiny(string path, (int W, int H)? size)
        {
            if (size is not { } s || Math.Min(s.W, s.H) >= tinySide) return;
            if (++tiny <= 5) note?.Invoke($"{path}: tiny image ({s.W}x{s.H}, under {tinySide} px on a side): it is upscaled many times and says little");
        }
        foreach (var p in train) Tiny(p, ImageHeader.TryRead(p));
        foreach (var t in test)
        {
            var size = ImageHeader.TryRead(t.Path);
            Tiny(t.Path, size);
            if (t.MaskPath == null || size is not { } img) continue;
            if (ImageHeader.TryRead(t.MaskPath) is { } m && m != img)
                throw new InvalidDataException($"{t.MaskPath}: mask is {m.Width}x{m.Height} but its image {Path.GetFileName(t.Path)} is {img.Width}x{img.Height}; a mask must have its image's size");
        }
        if (tiny > 5) note?.Invoke($"{tiny - 5} more tiny images");
    }

    /// <summary>The path with every link resolved (as realpath(3)): how a folder reached twice, or a folder
    /// that links to itself, is recognised.</summary>
    public static string RealPath(string path)
    {
        string full = Path.GetFullPath(path);
        string root = Path.GetPathRoot(full) ?? "";
        string current = root;
        var parts = new Queue<string>(full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries));
        for (int hops = 0; parts.Count > 0;)
        {
            string next = Path.Combine(current, parts.Dequeue());
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.LinkTarget is { } target && ++hops <= 40) // 40: the kernel's own limit on links in a path
            {
                // Resolve the target, then walk the rest after it again (its components may be links too).
                string resolved = Path.GetFullPath(target, current);
                var rest = new Queue<string>(resolved[(Path.GetPathRoot(resolved) ?? "").Length..]
                    .Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries));
                foreach (var p in parts) rest.Enqueue(p);
                parts = rest;
                current = Path.GetPathRoot(resolved) ?? root;
                continue;
            }
            current = next;
        }
        return current;
    }

    /// <summary>Image files under a folder and its subfolders, ordinal order; a folder reached again through a
    /// link (a loop, or two links to one place) is walked once.</summary>
    public static List<string> ListImagesRecursive(string dir)
    {
        var files = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>();
        pending.Push(dir);
        while (pending.Count > 0)
        {
            string d = pending.Pop();
            if (!seen.Add(RealPath(d))) continue;
            foreach (var f in Directory.GetFiles(d))
                if (IsImage(f)) files.Add(f);
            foreach (var sub in Directory.GetDirectories(d)) pending.Push(sub);
        }
        files.Sort(StringComparer.Ordinal);
        return files;
    }

    static string? FindMask(string gtDir, string type, string image)
    {
        string stem = Path.GetFileNameWithoutExtension(image);
        foreach (var ext in ImageExtensions)
        {
            string p = Path.Combine(gtDir, type, stem + "_mask" + ext);
            if (File.Exists(p)) return p;
        }
        return null;
    }

    /// <summary>Image files of a folder (by extension), ordinal order.</summary>
    public static List<string> ListImages(string dir)
    {
        var files = new List<string>();
        foreach (var f in Directory.GetFiles(dir))
            if (IsImage(f)) files.Add(f);
        files.Sort(StringComparer.Ordinal);
        return files;
    }

    public static bool IsImage(string path) =>
        Array.IndexOf(ImageExtensions, Path.GetExtension(path).ToLowerInvariant()) >= 0;
}
