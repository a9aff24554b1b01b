#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include <exempi-2.0/exempi/xmp.h>
#include <exempi-2.0/exempi/xmpconsts.h>

extern "C" {
#include "ccodecs.h"
}

/*
 * XMP through Exempi, the C wrapper of Adobe's XMP Toolkit. C++ only for std::cerr (see
 * exempi_ready); the rest is Exempi's C API.
 */

namespace {

const char iptc_extension[] = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/";

/*
 * No XMP a camera or an editor writes nests elements this deep (x:xmpmeta, rdf:RDF,
 * rdf:Description, a property, an array, an item, a struct's field...: ten at most in practice).
 * The toolkit's RDF parser and its XML tree's destructor recurse once a level, so a packet of
 * 50,000 levels overflows an 8 MB stack, and fewer a worker thread's.
 */
constexpr int depth_limit = 64;

/*
 * Exempi's xmp_init is not reentrant: once for the process, on first use. Exempi also prints
 * every error it catches to std::cerr before returning it; here a rejected input packet is
 * dropped, not reported (the image does not fail), and stderr carries a batch's progress and
 * one-line failures, so C++'s error stream is silenced (nothing else in the process uses it).
 */
bool exempi_ready() {
    static const bool ready = [] {
        std::cerr.setstate(std::ios_base::badbit);
        if (!xmp_init()) return false;
        xmp_register_namespace(iptc_extension, "Iptc4xmpExt", nullptr);
        return true;
    }();
    return ready;
}

/* Where `pattern` next starts in text[from, length), or `length`. */
size_t find(const char *text, size_t length, size_t from, const char *pattern) {
    size_t pattern_length = std::strlen(pattern);
    for (size_t i = from; i + pattern_length <= length; i++)
        if (std::memcmp(text + i, pattern, pattern_length) == 0) return i;
    return length;
}

bool starts(const char *text, size_t length, size_t at, const char *prefix) {
    size_t prefix_length = std::strlen(prefix);
    return at + prefix_length <= length && std::memcmp(text + at, prefix, prefix_length) == 0;
}

/* The end of the tag opened at `at`: past its '>', quoted attribute values skipped. */
size_t tag_end(const char *text, size_t length, size_t at, bool *empty_element) {
    char quote = 0;
    size_t i = at + 1;
    for (; i < length; i++) {
        char c = text[i];
        if (quote != 0) {
            if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '>') {
            break;
        }
    }
    *empty_element = i < length && text[i - 1] == '/';
    return i < length ? i + 1 : length;
}

/*
 * Whether the elements in `text` nest deeper than `limit`, read as XML's tags (comments,
 * CDATA sections, declarations and processing instructions skipped): what the toolkit's tree
 * would be, up to where its XML parser would stop at an error.
 */
bool nests_deeper_than(const char *text, size_t length, int limit) {
    int depth = 0;
    size_t i = 0;
    while (i < length) {
        if (text[i] != '<') {
            i++;
        } else if (starts(text, length, i, "<!--")) {
            i = find(text, length, i + 4, "-->") + 3;
        } else if (starts(text, length, i, "<![CDATA[")) {
            i = find(text, length, i + 9, "]]>") + 3;
        } else if (starts(text, length, i, "<?")) {
            i = find(text, length, i + 2, "?>") + 2;
        } else if (starts(text, length, i, "<!")) {
            i = find(text, length, i + 2, ">") + 1;
        } else {
            bool closing = starts(text, length, i, "</"), empty_element = false;
            i = tag_end(text, length, i, &empty_element);
            if (closing) depth--;
            else if (!empty_element && ++depth > limit) return true;
        }
    }
    return false;
}

/* Whether the packet has a property at all: an XML document without rdf:RDF parses to none. */
bool has_properties(XmpPtr xmp) {
    XmpIteratorPtr iterator = xmp_iterator_new(xmp, nullptr, nullptr, XMP_ITER_JUSTLEAFNODES);
    if (iterator == nullptr) return false;
    bool found = xmp_iterator_next(iterator, nullptr, nullptr, nullptr, nullptr);
    xmp_iterator_free(iterator);
    return found;
}

/* Sets a simple property, replacing whatever the packet had under its name (an array, a struct). */
bool replace(XmpPtr xmp, const char *schema, const char *name, const char *value) {
    if (xmp_has_property(xmp, schema, name) && !xmp_delete_property(xmp, schema, name)) return false;
    return xmp_set_property(xmp, schema, name, value, 0);
}

/* Sets a property only where the packet has it. */
bool update(XmpPtr xmp, const char *schema, const char *name, const char *value) {
    return !xmp_has_property(xmp, schema, name) || replace(xmp, schema, name, value);
}

bool apply(XmpPtr xmp, const ccodecs_xmp_changes *changes) {
    char width[16], height[16];
    std::snprintf(width, sizeof width, "%u", changes->width);
    std::snprintf(height, sizeof height, "%u", changes->height);
    bool ok = true;
    if (changes->digital_source_type != nullptr) {
        ok = ok && replace(xmp, iptc_extension, "DigitalSourceType", changes->digital_source_type);
        ok = ok && replace(xmp, NS_XAP, "CreatorTool", changes->creator_tool);
    }
    if (changes->reset_orientation) ok = ok && update(xmp, NS_TIFF, "Orientation", "1");
    ok = ok && update(xmp, NS_EXIF, "PixelXDimension", width) && update(xmp, NS_EXIF, "PixelYDimension", height);
    ok = ok && update(xmp, NS_TIFF, "ImageWidth", width) && update(xmp, NS_TIFF, "ImageLength", height);
    if (xmp_has_property(xmp, NS_XAP, "Thumbnails")) ok = ok && xmp_delete_property(xmp, NS_XAP, "Thumbnails");
    return ok;
}

/* A malloc'ed, NUL-terminated copy of the packet serialized read-only (no padding to edit it in place). */
bool serialize(XmpPtr xmp, char **merged, size_t *merged_length) {
    XmpStringPtr text = xmp_string_new();
    bool ok = text != nullptr && xmp_serialize(xmp, text, XMP_SERIAL_READONLYPACKET, 0);
    if (ok) {
        size_t length = xmp_string_len(text);
        *merged = static_cast<char *>(std::malloc(length + 1));
        ok = *merged != nullptr;
        if (ok) {
            std::memcpy(*merged, xmp_string_cstr(text), length + 1);
            *merged_length = length;
        }
    }
    if (text != nullptr) xmp_string_free(text);
    return ok;
}

/* The parsed packet, freed however the merge ends. */
struct Packet {
    XmpPtr xmp;
    ~Packet() {
        if (xmp != nullptr) xmp_free(xmp);
    }
};

} // namespace

/*
 * Exempi catches the toolkit's exceptions in most of its functions but not all (its iterator's
 * constructor and Next): none may unwind into the C and Swift callers.
 */
extern "C" ccodecs_status ccodecs_xmp_merge(const uint8_t *packet, size_t length, const ccodecs_xmp_changes *changes,
                                            char **merged, size_t *merged_length) {
    *merged = nullptr;
    *merged_length = 0;
    const char *text = reinterpret_cast<const char *>(packet);
    try {
        if (!exempi_ready()) return CCODECS_ERROR_UNSUPPORTED;
        if (nests_deeper_than(text, length, depth_limit)) return CCODECS_ERROR_CORRUPT;
        Packet parsed{xmp_new(text, length)};
        if (parsed.xmp == nullptr || !has_properties(parsed.xmp) || !apply(parsed.xmp, changes)) return CCODECS_ERROR_CORRUPT;
        return serialize(parsed.xmp, merged, merged_length) ? CCODECS_OK : CCODECS_ERROR_CORRUPT;
    } catch (...) {
        std::free(*merged);
        *merged = nullptr;
        *merged_length = 0;
        return CCODECS_ERROR_CORRUPT;
    }
}
