namespace PatchCore.Cli.Commands;

public static class BenchBackbone
{
    public static int Run(BenchCommand o) => throw new NotImplementedException("bench backbone");
}
