using CommandLine;
using CommandLine.Text;
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
            typeof(ConvertCommand), typeof(BenchCommand), typeof(FinetuneCommand),
        ];

        public static int Main(string[] args)
        {
            // CommandLineParser has no one-letter long names: --k N (the paper's k) is read as -k N.
            args = Array.ConvertAll(args, a => a == "--k" ? "-k" : a.StartsWith("--k=", StringComparison.Ordinal) ? "-k" + a[4..] : a);
            // No HelpWriter: the parser would print usage errors on stdout. Help and version are answers
            // (stdout, exit 0); anything else it rejected is a usage error (stderr, exit 2).
            var parser = new Parser(s => { s.HelpWriter = null; s.CaseInsensitiveEnumValues = true; });
            try
            {
                var parsed = parser.ParseArguments(args, Verbs);
                return parsed.MapResult((object c) => ((ICommand)c).Execute(), errs => Usage(parsed, errs));
            }
            catch (Exception e)
            {
                // Known causes are stopped at their source with a message naming the file or flag; this is the
                // net for the rest: one line, no stack trace (PCNATIVE_DEBUG=1 shows it for a bug report).
                Console.Out.Flush();
                Console.Error.WriteLine($"pcnative: error: {OneLine(e)}");
                if (Environment.GetEnvironmentVariable("PCNATIVE_DEBUG") == "1") Console.Error.WriteLine(e);
                return 1;
            }
        }

        static int Usage(ParserResult<object> parsed, IEnumerable<Error> errs)
        {
            var list = errs.ToList();
            if (list.All(e => e is HelpRequestedError or HelpVerbRequestedError or VersionRequestedError))
            {
                Console.Out.WriteLine(list.Any(e => e is VersionRequestedError)
                    ? HeadingInfo.Default.ToString()
                    : HelpText.AutoBuild(parsed, h => HelpText.DefaultParsingErrorsHandler(parsed, h), e => e, verbsIndex: true).ToString());
                return 0;
            }
            // A usage error is one line on stderr naming the flag, and where to see the valid ones.
            var sentences = SentenceBuilder.Create();
            string problems = string.Join("; ", list.Where(e => e is not (HelpRequestedError or HelpVerbRequestedError or VersionRequestedError))
                .Select(e => sentences.FormatError(e).TrimEnd('.')));
            string verb = parsed.TypeInfo.Current.GetCustomAttributes(typeof(VerbAttribute), false) is [VerbAttribute v, ..] ? v.Name + " " : "";
            Console.Error.WriteLine($"pcnative: usage error: {problems} (pcnative {verb}--help lists the flags)");
            return 2;
        }

        /// <summary>The message on one line; an exception without a message of its own (a bug) says its type.</summary>
        static string OneLine(Exception e)
        {
            if (e is System.Reflection.TargetInvocationException { InnerException: { } inner }) e = inner;
            string m = e.Message.Replace('\0', ' ').Trim();
            int nl = m.IndexOfAny(['\r', '\n']);
            if (nl >= 0) m = m[..nl];
            bool known = e is UserError or IOException or InvalidDataException or ArgumentException or NotSupportedException
                or UnauthorizedAccessException;
            return known && m.Length > 0 ? m : $"{e.GetType().Name}: {m} (a bug: please report it with PCNATIVE_DEBUG=1 output)";
        }
    }
}
