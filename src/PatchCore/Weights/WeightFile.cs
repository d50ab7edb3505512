using PatchCore.Tensors;

namespace PatchCore.Weights;

/// <summary>A backbone's weights: named float32 tensors plus <see cref="WeightMetadata"/>, stored as safetensors.</summary>
public sealed class WeightFile
{
    public WeightFile(WeightMetadata metadata, Dictionary<string, Tensor> tensors, string identity = "")
    {
        Metadata = metadata;
        Tensors = tensors;
        Identity = identity;
    }

    public WeightMetadata Metadata { get; }
    public Dictionary<string, Tensor> Tensors { get; }
    /// <summary>SHA-256 (hex) of the file it was loaded from; models remember it so a mismatch is refused.</summary>
    public string Identity { get; }

    public Tensor Get(string name) =>
        Tensors.TryGetValue(name, out var t) ? t : throw new InvalidDataException($"weights: missing tensor '{name}'");

    /// <summary>Read a safetensors file written by <see cref="Save"/> (or any safetensors of float32 tensors
    /// with our metadata). Errors name the file and the problem.
    /// Checks the metadata's required keys and that every tensor the described ResNet needs is present with
    /// the right shape (<see cref="WeightValidation"/>); extra tensors (fc.*) are kept and ignored.</summary>
    public static WeightFile Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: weight file not found", path);
        var (tensors, strings) = Safetensors.Read(path);
        var metadata = WeightMetadataCodec.FromStrings(strings, path);
        WeightValidation.Validate(metadata, tensors, path);
        return new WeightFile(metadata, tensors, HashFile(path));
    }

    /// <summary>
    /// The same net cut after its first <paramref name="stages"/> stages (layer4 and fc dropped for 3): PatchCore
    /// needs layer2 and layer3 only, and the cut file is a quarter of the size (what travels to a GPU machine).
    /// </summary>
    public WeightFile TruncateStages(int stages)
    {
        var m = Metadata;
        if (stages < 1 || stages > m.BlocksPerStage.Length)
            throw new ArgumentException($"weights: cannot keep {stages} stages of a net with {m.BlocksPerStage.Length}");
        var kept = new Dictionary<string, Tensor>();
        foreach (var (name, t) in Tensors)
        {
            if (name.StartsWith("fc.", StringComparison.Ordinal)) continue;
            if (name.StartsWith("layer", StringComparison.Ordinal) && name.Length > 5 && char.IsDigit(name[5]) && name[5] - '0' > stages) continue;
            kept[name] = t;
        }
        var geometry = new Dictionary<string, LayerGeometry>();
        foreach (var (name, g) in m.Geometry)
            if (!(name.StartsWith("layer", StringComparison.Ordinal) && name.Length > 5 && char.IsDigit(name[5]) && name[5] - '0' > stages))
                geometry[name] = g;
        var meta = m with { BlocksPerStage = m.BlocksPerStage[..stages], StageWidths = m.StageWidths[..stages], Geometry = geometry };
        return new WeightFile(meta, kept);
    }

    /// <summary>Write atomically (temporary file, then rename). Validates first: a file we write always loads.</summary>
    public void Save(string path)
    {
        WeightValidation.Validate(Metadata, Tensors, path);
        Safetensors.Write(path, Tensors, WeightMetadataCodec.ToStrings(Metadata));
    }

    /// <summary>SHA-256 hex (lower case) of a file's bytes: the identity a model records.</summary>
    public static string HashFile(string path)
    {
        using var fs = File.OpenRead(path);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(fs));
    }
}
