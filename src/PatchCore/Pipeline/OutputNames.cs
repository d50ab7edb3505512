namespace PatchCore.Pipeline;

/// <summary>
/// Where each image's outputs go: its relative path (folders kept, '/' separated) without the extension, made
/// unique. Two inputs that map to the same stem (case-insensitively, since output folders may lie on a
/// case-insensitive file system; also a.png beside a.jpg) keep the first as is and give the later ones
/// <c>_2</c>, <c>_3</c> … — so no output overwrites another and none loses its folder.
/// </summary>
public static class OutputNames
{
    /// <param name="relativePaths">per image, its path relative to what the user gave (may have an extension).</param>
    public static string[] UniqueStems(IReadOnlyList<string> relativePaths)
    {
        var stems = new string[relativePaths.Count];
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < stems.Length; i++)
        {
            string rel = relativePaths[i].Replace('\\', '/').TrimStart('/');
            int slash = rel.LastIndexOf('/'), dot = rel.LastIndexOf('.');
            string stem = dot > slash + 1 ? rel[..dot] : rel;
            string name = stem;
            for (int j = 2; !seen.Add(name); j++) name = $"{stem}_{j}";
            stems[i] = name;
        }
        return stems;
    }

    /// <summary>
    /// predict's relative path of an input: for a file found under a folder argument F, the name of F followed by
    /// the file's path inside F (F/a/b.png → "F/a/b.png"); for a file argument, its file name.
    /// </summary>
    public static string ForInput(string file, string? folderArgument)
    {
        if (folderArgument == null) return Path.GetFileName(file);
        string root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folderArgument));
        string name = Path.GetFileName(root);
        if (name.Length == 0) name = "root"; // the file-system root itself has no name
        return name + "/" + Path.GetRelativePath(root, Path.GetFullPath(file)).Replace('\\', '/');
    }
}
