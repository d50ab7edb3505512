namespace PatchCore.Cli.Commands;

public static class BenchKernels
{
    public static int Run(BenchCommand o) => throw new NotImplementedException("bench kernels");
}
