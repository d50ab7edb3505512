namespace PatchCore.Cuda.Native;

/// <summary>A failed CUDA, NVRTC or cuBLAS call: the message is one line naming the call, the error name and text.</summary>
public sealed class CudaException(string message) : Exception(message)
{
    /// <summary>One line: "cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory)". Newlines in the
    /// library's text are folded so that the CLI's one-line error stays one line.</summary>
    public static string Format(string call, int code, string? name, string? text)
    {
        string n = string.IsNullOrWhiteSpace(name) ? $"error {code}" : name.Trim();
        string t = string.IsNullOrWhiteSpace(text) ? "" : " (" + OneLine(text) + ")";
        return $"{call} failed: {n}{t}";
    }

    public static string OneLine(string s) =>
        string.Join(' ', s.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
