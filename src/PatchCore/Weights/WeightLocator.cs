namespace PatchCore.Weights;

/// <summary>
/// Finds a weight file given as a relative path (the default "weights/resnet18-cntk.safetensors"): first from
/// the working directory, then from each folder above the running binary, so `pcnative run` works from any
/// directory of a checkout that ./build.sh built.
/// </summary>
public static class WeightLocator
{
    public static string Find(string path)
    {
        if (File.Exists(path) || Path.IsPathRooted(path)) return path;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, path);
            if (File.Exists(candidate)) return candidate;
        }
        return path;
    }
}
