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
    /// with our metadata). Errors name the file and the problem.</summary>
    public static WeightFile Load(string path) => throw new NotImplementedException();

    /// <summary>Write atomically (temporary file, then rename).</summary>
    public void Save(string path) => throw new NotImplementedException();
}
