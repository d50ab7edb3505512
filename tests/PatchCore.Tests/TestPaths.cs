namespace PatchCore.Tests;

/// <summary>Where tests find the repository, the shared data beside it and the restored NuGet packages.</summary>
public static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>../shared/data beside the checkout (real MVTec AD images; read-only).</summary>
    public static string SharedData => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data"));

    public static string NuGetPackages =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>The CNTK ResNet18 ONNX file of Microsoft.ML.DnnImageFeaturizer.ResNet18 (restored by PackageDownload).</summary>
    public static string CntkResNet18Onnx => Path.Combine(NuGetPackages, "microsoft.ml.dnnimagefeaturizer.resnet18",
        "0.23.1", "tools", "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");

    public static string CntkPreprocessOnnx => Path.Combine(NuGetPackages, "microsoft.ml.dnnimagefeaturizer.resnet18",
        "0.23.1", "tools", "DnnImageModels", "ResNetPrepOnnx", "ResNetPreprocess.onnx");

    static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "PatchCore.Native.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("PatchCore.Native.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>A fresh empty temporary folder.</summary>
    public static string TempDir()
    {
        var d = Path.Combine(Path.GetTempPath(), "pcnative-tests-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(d);
        return d;
    }
}
