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
