# Turns docs/stoat.1.md into the troff of stoat(1), so the manual is written
# once, as Markdown a person reads on the web, and needs no pandoc to build.
# It knows the small part of Markdown that file uses, and nothing more:
#   # SECTION           .SH
#   ## Subsection       .SS
#   blank line          a new paragraph
#   term line, then a line starting ":   "   a tagged paragraph (.TP), for options
#   "- " item           a bulleted paragraph
#   four-space indent   a literal block (.nf)
#   `code` and **bold** bold, *word* italic
# Usage: awk -v version=X -f scripts/md2man.awk docs/stoat.1.md
# The first line ("% STOAT(1) ...") is the title; the date is left out so a
# build is the same whenever it runs.

# troff escapes: backslash first; a hyphen becomes \- (a minus, which pastes
# as typed) in code and where it starts a word (an option), and stays a
# hyphen inside words (living-off-the-land)
function esc(s, code) {
    gsub(/\\/, "\\e", s)
    if (code) {
        gsub(/-/, "\\-", s)
        return s
    }
    s = " " s
    while (match(s, /[[ (|,]-/))
        s = substr(s, 1, RSTART) "\\-" substr(s, RSTART + 2)
    # a second hyphen right after an escaped one (--option)
    gsub(/\\--/, "\\-\\-", s)
    return substr(s, 2)
}

# inline markup: `x` (escaped as code) and **x** bold, *x* italic
function inl(s,    out, m, st, len) {
    out = ""
    while (match(s, /`[^`]+`|\*\*[^*]+\*\*|\*[^* ][^*]*\*/)) {
        st = RSTART   # esc() matches too: RSTART and RLENGTH are global
        len = RLENGTH
        m = substr(s, st, len)
        out = out esc(substr(s, 1, st - 1), 0)
        if (substr(m, 1, 2) == "**")
            out = out "\\fB" esc(substr(m, 3, len - 4), 0) "\\fR"
        else if (substr(m, 1, 1) == "`")
            out = out "\\fB" esc(substr(m, 2, len - 2), 1) "\\fR"
        else
            out = out "\\fI" esc(substr(m, 2, len - 2), 0) "\\fR"
        s = substr(s, st + len)
    }
    return out esc(s, 0)
}

# a text line must not start with a control character
function line(s) {
    if (s ~ /^[.']/)
        s = "\\&" s
    print s
}

# the paragraph held so far goes out (it may turn out to be a term)
function flush() {
    if (npara == 0)
        return
    print (mode == "item" ? ".IP \\(bu 2" : ".PP")
    for (i = 1; i <= npara; i++)
        line(inl(para[i]))
    npara = 0
    mode = ""
}

function endcode() {
    if (incode) {
        print ".fi"
        print ".RE"
        incode = 0
    }
}

NR == 1 && /^% / {
    split(substr($0, 3), t, /[()]/)
    printf ".TH \"%s\" \"%s\" \"\" \"stoat %s\" \"User Commands\"\n", t[1], t[2], version
    print ".\\\" generated from docs/stoat.1.md by scripts/md2man.awk; edit that file"
    next
}

/^    / && (incode || blank) {
    flush()
    if (!incode) {
        print ".RS 4"
        print ".nf"
        incode = 1
    }
    for (; pendingblank > 0; pendingblank--)
        print ""
    line(esc(substr($0, 5), 1))
    blank = 0
    next
}

/^[ \t]*$/ {
    # a blank line inside a literal block may belong to it: kept until we know
    if (incode) {
        pendingblank++
        blank = 1
        next
    }
    flush()
    blank = 1
    next
}

{
    endcode()
    pendingblank = 0
}

/^# / { flush(); print ".SH \"" esc(substr($0, 3), 0) "\""; blank = 1; next }
/^## / { flush(); print ".SS \"" esc(substr($0, 4), 0) "\""; blank = 1; next }

/^:   / {
    # the paragraph before is the term
    term = npara ? para[npara] : ""
    npara--
    flush()
    print ".TP"
    line(inl(term))
    line(inl(substr($0, 5)))
    indef = 1
    blank = 0
    next
}

/^- / {
    flush()
    mode = "item"
    para[++npara] = substr($0, 3)
    blank = 0
    indef = 0
    next
}

{
    text = $0
    sub(/^[ \t]+/, "", text)
    if (indef && !blank) {
        line(inl(text))   # more of a definition
        next
    }
    indef = 0
    para[++npara] = text
    blank = 0
}

END {
    flush()
    endcode()
}
