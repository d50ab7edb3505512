using System.Globalization;

namespace PatchCore.Cli.Commands;

/// <summary>
/// One line of the `bench kernels` table (and of its JSON): an op at a shape on a backend with one of its kernel
/// variants ("default" where it has one kernel), the median time, the achieved rate and the machine's ceiling for
/// that kind of rate (null where there is none: a host link, a whole network, a device without a vendor GEMM).
/// </summary>
public sealed record BenchKernelRow(string Op, string Shape, string Backend, string Variant, double MedianMs, int Runs,
    double Rate, string Unit, double? Ceiling, string? CeilingName)
{
    public double? PercentOfCeiling => Ceiling is > 0 ? 100 * Rate / Ceiling : null;

    public static string Header { get; } =
        $"{"op",-25} {"shape",-44} {"backend",-9} {"variant",-12} {"median ms",12} {"rate",12} {"unit",-7} {"ceiling",10} {"%",6}  ceiling from";

    public override string ToString()
    {
        var inv = CultureInfo.InvariantCulture;
        // Three significant figures or more: a tiny op's 0.004 GB/s should not print as 0.0.
        string rate = Rate.ToString(Rate >= 100 ? "F0" : Rate >= 1 ? "F1" : "G3", inv);
        string ceiling = Ceiling is { } c
            ? string.Create(inv, $"{c,10:F0} {PercentOfCeiling,5:F0}%  {CeilingName}")
            : $"{"-",10}";
        return string.Create(inv, $"{Op,-25} {Shape,-44} {Backend,-9} {Variant,-12} {MedianMs,12:F3} {rate,12} {Unit,-7} ") + ceiling;
    }
}
