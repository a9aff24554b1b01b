#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libexif/exif-data.h>

#include "ccodecs.h"

/* libexif's saved block starts with the APP1 signature, which ccodecs payloads leave out. */
static const uint8_t exif_signature[6] = {'E', 'x', 'i', 'f', 0, 0};

/* libexif writes an entry of more components than this as garbage (exif_data_save_data_entry). */
enum { max_components = 65536 };

/* The input behind the APP1 signature libexif's loader looks for; NULL when out of memory. */
static ExifData *load(ExifMem *memory, const uint8_t *exif, size_t length) {
    /* libexif reads no further than a JPEG segment holds. */
    size_t kept = length < 0xFFFE ? length : 0xFFFE;
    uint8_t *framed = malloc(sizeof exif_signature + kept);
    ExifData *data = framed != NULL ? exif_data_new_mem(memory) : NULL;
    if (data != NULL) {
        /*
         * Tags as the input has them: none dropped for being unknown to libexif, and none
         * added or "fixed" to what the specification wants (that would invent values).
         */
        exif_data_unset_option(data, EXIF_DATA_OPTION_IGNORE_UNKNOWN_TAGS);
        exif_data_unset_option(data, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
        memcpy(framed, exif_signature, sizeof exif_signature);
        memcpy(framed + sizeof exif_signature, exif, kept);
        exif_data_load_data(data, framed, (unsigned int)(sizeof exif_signature + kept));
    }
    free(framed);
    return data;
}

static int has_tags(const ExifData *data) {
    for (int ifd = 0; ifd < EXIF_IFD_COUNT; ifd++)
        if (data->ifd[ifd]->count > 0) return 1;
    return 0;
}

/* Puts `size` bytes of `format` as `tag` in `ifd`, in place of any entry there; 0 when out of memory. */
static int replace_entry(ExifData *data, ExifMem *memory, ExifIfd ifd, ExifTag tag, ExifFormat format,
                         const uint8_t *bytes, size_t size) {
    ExifContent *content = data->ifd[ifd];
    ExifEntry *old = exif_content_get_entry(content, tag);
    if (old != NULL) exif_content_remove_entry(content, old);
    ExifEntry *entry = exif_entry_new_mem(memory);
    if (entry == NULL) return 0;
    entry->data = exif_mem_alloc(memory, (ExifLong)size);
    int ok = entry->data != NULL;
    if (ok) {
        memcpy(entry->data, bytes, size);
        entry->size = (unsigned int)size;
        entry->tag = tag;
        entry->format = format;
        entry->components = (unsigned long)(size / exif_format_get_size(format));
        exif_content_add_entry(content, entry);
    }
    exif_entry_unref(entry);
    return ok;
}

static int replace_long(ExifData *data, ExifMem *memory, ExifIfd ifd, ExifTag tag, uint32_t value) {
    uint8_t bytes[4];
    exif_set_long(bytes, exif_data_get_byte_order(data), value);
    return replace_entry(data, memory, ifd, tag, EXIF_FORMAT_LONG, bytes, sizeof bytes);
}

static int replace_short(ExifData *data, ExifMem *memory, ExifIfd ifd, ExifTag tag, uint16_t value) {
    uint8_t bytes[2];
    exif_set_short(bytes, exif_data_get_byte_order(data), value);
    return replace_entry(data, memory, ifd, tag, EXIF_FORMAT_SHORT, bytes, sizeof bytes);
}

/* The thumbnail shows the image before the edit; IFD1 describes only it. */
static void remove_thumbnail(ExifData *data, ExifMem *memory) {
    ExifContent *thumbnail = data->ifd[EXIF_IFD_1];
    while (thumbnail->count > 0) exif_content_remove_entry(thumbnail, thumbnail->entries[0]);
    exif_mem_free(memory, data->data);
    data->data = NULL;
    data->size = 0;
}

static int apply(ExifData *data, ExifMem *memory, const ccodecs_exif_changes *changes) {
    remove_thumbnail(data, memory);
    int ok = replace_long(data, memory, EXIF_IFD_EXIF, EXIF_TAG_PIXEL_X_DIMENSION, changes->width) &&
             replace_long(data, memory, EXIF_IFD_EXIF, EXIF_TAG_PIXEL_Y_DIMENSION, changes->height);
    int has_orientation = exif_content_get_entry(data->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION) != NULL;
    if (ok && changes->reset_orientation && has_orientation)
        ok = replace_short(data, memory, EXIF_IFD_0, EXIF_TAG_ORIENTATION, 1);
    if (ok && changes->comment != NULL)
        ok = replace_entry(data, memory, EXIF_IFD_EXIF, EXIF_TAG_USER_COMMENT, EXIF_FORMAT_UNDEFINED,
                           changes->comment, changes->comment_length);
    return ok;
}

/* The saved block without its APP1 signature, in memory of our own; 0 when out of memory. */
static int save(ExifData *data, ExifMem *memory, uint8_t **rewritten, size_t *rewritten_length) {
    unsigned char *saved = NULL;
    unsigned int saved_length = 0;
    exif_data_save_data(data, &saved, &saved_length);
    int ok = saved != NULL && saved_length > sizeof exif_signature;
    if (ok) {
        *rewritten_length = saved_length - sizeof exif_signature;
        *rewritten = malloc(*rewritten_length);
        ok = *rewritten != NULL;
        if (ok) memcpy(*rewritten, saved + sizeof exif_signature, *rewritten_length);
    }
    exif_mem_free(memory, saved);
    return ok;
}

ccodecs_status ccodecs_exif_rewrite(const uint8_t *exif, size_t length, const ccodecs_exif_changes *changes,
                                    uint8_t **rewritten, size_t *rewritten_length,
                                    char *message, size_t capacity) {
    *rewritten = NULL;
    *rewritten_length = 0;
    if (changes->comment != NULL && changes->comment_length > max_components) {
        snprintf(message, capacity, "a UserComment of %zu bytes does not fit in EXIF (at most %d)",
                 changes->comment_length, max_components);
        return CCODECS_ERROR_WRITE;
    }
    ExifMem *memory = exif_mem_new_default();
    ExifData *data = memory != NULL ? load(memory, exif, length) : NULL;
    int ok = data != NULL;
    if (ok && has_tags(data)) ok = apply(data, memory, changes) && save(data, memory, rewritten, rewritten_length);
    if (data != NULL) exif_data_unref(data);
    exif_mem_unref(memory);
    if (!ok) {
        free(*rewritten);
        *rewritten = NULL;
        *rewritten_length = 0;
        snprintf(message, capacity, "out of memory rewriting the EXIF");
        return CCODECS_ERROR_WRITE;
    }
    return CCODECS_OK;
}
