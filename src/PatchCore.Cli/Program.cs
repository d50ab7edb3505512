using CommandLine;
using PatchCore.Cli;
using PatchCore.Cli.Commands;

// pcnative: PatchCore (Roth et al., CVPR 2022) with hand-written kernels. Each verb lives in Commands/.
return Cli.Main(args);

namespace PatchCore.Cli
{
    /// <summary>A parsed verb that can run.</summary>
    public interface ICommand
    {
        int Execute();
    }

    /// <summary>An error the user can fix (bad input, missing file): printed as one line, exit code 1.</summary>
    public sealed class UserError(string message) : Exception(message);

    public static class Cli
    {
        static readonly Type[] Verbs =
        [
            typeof(RunCommand), typeof(FitCommand), typeof(PredictCommand), typeof(EvaluateCommand), typeof(FeaturesCommand),
            typeof(ConvertCommand), typeof(BenchCommand),
        ];

        public static int Main(string[] args)
        {
            // CommandLineParser has no one-letter long names: --k N (the paper's k) is read as -k N.
            args = Array.ConvertAll(args, a => a == "--k" ? "-k" : a.StartsWith("--k=", StringComparison.Ordinal) ? "-k" + a[4..] : a);
            var parser = new Parser(s => { s.HelpWriter = Console.Out; s.CaseInsensitiveEnumValues = true; });
            try
            {
                return parser.ParseArguments(args, Verbs).MapResult((object c) => ((ICommand)c).Execute(),
                    // --help and --version are answers, not errors; anything else the parser rejected is a usage error.
                    errs => errs.All(e => e is HelpRequestedError or HelpVerbRequestedError or VersionRequestedError) ? 0 : 2);
            }
            catch (Exception e) when (e is UserError or FileNotFoundException or DirectoryNotFoundException
                                          or InvalidDataException or IOException or ArgumentException or NotSupportedException)
            {
                Console.Out.Flush();
                Console.Error.WriteLine($"pcnative: error: {e.Message}");
                return 1;
            }
        }
    }
}
