using PatchCore.Data;

namespace PatchCore.Cli.Commands;

/// <summary>Which data a run uses: the named category under the data root, or the synthetic demo.</summary>
public static class DatasetArgs
{
    /// <summary>Where the synthetic demo category is generated (./data/demo).</summary>
    public static string DemoRoot => Path.GetFullPath("data");

    public static MvtecDataset Resolve(string? category, string? dataRoot, out bool synthetic)
    {
        string root = MvtecDataset.ResolveRoot(dataRoot);
        synthetic = false;
        var found = MvtecDataset.FindCategories(root);
        bool demo = category == null || (category == SyntheticDataset.DefaultCategory && !found.Contains(category));
        if (category == null && found.Count > 0)
            throw new UserError($"no --category given; categories under {root}: {string.Join(", ", found)}");
        if (demo)
        {
            synthetic = true;
            Console.Error.WriteLine($"note: no data at {root}: generating the SYNTHETIC demo category (procedural textures with painted defects) under {Path.Combine(DemoRoot, SyntheticDataset.DefaultCategory)}.");
            Console.Error.WriteLine($"note: its numbers say nothing about real inspection data. For MVTec AD ({MvtecDataset.MvtecUrl}) pass --category NAME --data-root DIR.");
            SyntheticDataset.Ensure(DemoRoot);
            return MvtecDataset.Open(DemoRoot, SyntheticDataset.DefaultCategory, Note);
        }
        if (!Directory.Exists(Path.Combine(root, category!)) && found.Count == 0)
            throw new UserError(
                $"no data for category '{category}' under {root}. MVTec AD comes from {MvtecDataset.MvtecUrl} " +
                $"(licence CC BY-NC-SA 4.0, research use): download and unpack it, then pass --data-root DIR or set " +
                $"{MvtecDataset.DataEnvironmentVariable}=DIR, where DIR holds {category}/train/good. " +
                "`pcnative run` without --category runs a synthetic demo.");
        return MvtecDataset.Open(root, category!, Note);
    }

    static void Note(string line) => Console.Error.WriteLine("note: " + line);
}
