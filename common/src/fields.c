/*
 * fields.c - the request body checker (see fields.h).
 */
#include <stdio.h>
#include <string.h>

#include "clearance/fields.h"

static const char *ftype_name(enum clr_ftype t)
{
	switch (t) {
	case CLR_FT_STR:
		return "a string";
	case CLR_FT_BOOL:
		return "a boolean";
	case CLR_FT_STRARR:
		return "an array of strings";
	case CLR_FT_INT:
		return "an integer";
	case CLR_FT_OBJ:
		return "an object";
	case CLR_FT_OBJARR:
		return "an array of objects";
	}
	return "?";
}

/* Control characters have no business in names, URLs or tokens. */
static int has_ctl(const char *s, size_t len, int multiline)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (multiline && (c == '\n' || c == '\r' || c == '\t'))
			continue;
		if (c < 0x20 || c == 0x7f)
			return 1;
	}
	return 0;
}

static enum clr_rc str_check(const json_t *v, const struct clr_field *f, const char *code,
			     struct clr_err *e)
{
	size_t len = json_string_length(v);

	if (len < f->minlen)
		return clr_err_set(e, CLR_ERR_PARAM, code, f->name,
				   f->minlen == 1 ? "%s must not be empty" : "%s is too short",
				   f->name);
	if (len > f->maxlen)
		return clr_err_set(e, CLR_ERR_PARAM, code, f->name, "%s is longer than %zu bytes",
				   f->name, f->maxlen);
	if (has_ctl(json_string_value(v), len, f->multiline))
		return clr_err_set(e, CLR_ERR_PARAM, code, f->name,
				   "%s contains control characters", f->name);
	return CLR_OK;
}

static enum clr_rc field_check(const json_t *v, const struct clr_field *f, const char *code,
			       struct clr_err *e)
{
	size_t i;
	json_t *it;
	json_int_t iv;

	if (json_is_null(v)) {
		if (f->nullable)
			return CLR_OK;
		return clr_err_set(e, CLR_ERR_PARAM, code, f->name, "%s must be %s, not null",
				   f->name, ftype_name(f->type));
	}
	switch (f->type) {
	case CLR_FT_STR:
		if (!json_is_string(v))
			break;
		return str_check(v, f, code, e);
	case CLR_FT_BOOL:
		if (!json_is_boolean(v))
			break;
		return CLR_OK;
	case CLR_FT_INT:
		if (!json_is_integer(v))
			break;
		iv = json_integer_value(v);
		if (iv < (json_int_t)f->minlen || iv > (json_int_t)f->maxlen)
			return clr_err_set(e, CLR_ERR_PARAM, code, f->name,
					   "%s must be between %zu and %zu", f->name, f->minlen,
					   f->maxlen);
		return CLR_OK;
	case CLR_FT_OBJ:
		if (!json_is_object(v))
			break;
		return CLR_OK;
	case CLR_FT_STRARR:
		if (!json_is_array(v))
			break;
		if (json_array_size(v) > f->maxitems)
			return clr_err_set(e, CLR_ERR_PARAM, code, f->name,
					   "%s has more than %zu items", f->name, f->maxitems);
		json_array_foreach(v, i, it)
		{
			if (!json_is_string(it))
				return clr_err_set(e, CLR_ERR_PARAM, code, f->name,
						   "%s must contain only strings", f->name);
			if (str_check(it, f, code, e) != CLR_OK)
				return CLR_ERR_PARAM;
		}
		return CLR_OK;
	case CLR_FT_OBJARR:
		if (!json_is_array(v))
			break;
		if (json_array_size(v) > f->maxitems)
			return clr_err_set(e, CLR_ERR_PARAM, code, f->name,
					   "%s has more than %zu items", f->name, f->maxitems);
		json_array_foreach(v, i, it)
		{
			if (!json_is_object(it))
				return clr_err_set(e, CLR_ERR_PARAM, code, f->name,
						   "%s must contain only objects", f->name);
		}
		return CLR_OK;
	}
	return clr_err_set(e, CLR_ERR_PARAM, code, f->name, "%s must be %s", f->name,
			   ftype_name(f->type));
}

enum clr_rc clr_fields_check(const json_t *obj, const struct clr_body *spec, struct clr_err *e)
{
	const char *code = spec->error_code != NULL ? spec->error_code : "invalid_request";
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(obj))
		return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", NULL,
				   "the body must be a JSON object");
	json_object_foreach((json_t *)obj, key, v)
	{
		for (i = 0; i < spec->n && strcmp(spec->fields[i].name, key) != 0; i++)
			;
		if (i == spec->n) {
			char shown[40];
			size_t kl = strlen(key);

			/* Echo at most a bounded, printable prefix of the caller's key. */
			snprintf(shown, sizeof(shown), "%.32s", key);
			if (has_ctl(shown, strlen(shown), 0))
				snprintf(shown, sizeof(shown), "(unprintable)");
			return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", NULL,
					   "unknown or read-only field \"%s%s\"", shown,
					   kl > 32 ? "..." : "");
		}
		if (field_check(v, &spec->fields[i], code, e) != CLR_OK)
			return CLR_ERR_PARAM;
	}
	if (spec->partial) {
		if (json_object_size(obj) == 0)
			return clr_err_set(e, CLR_ERR_PARAM, "invalid_request", NULL,
					   "the body names no field to change");
		return CLR_OK;
	}
	for (i = 0; i < spec->n; i++) {
		v = json_object_get(obj, spec->fields[i].name);
		if (spec->fields[i].required && (v == NULL || json_is_null(v)))
			return clr_err_set(e, CLR_ERR_PARAM, code, spec->fields[i].name,
					   "%s is required", spec->fields[i].name);
	}
	return CLR_OK;
}
