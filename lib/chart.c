/*
 * chart.c: one generic bar chart in SVG for the reports (chart.h). Small on purpose: every
 * chart of a report is this one, given other numbers. It must never fetch anything (no
 * external font, stylesheet or script) and never print a label unescaped.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "chart.h"

/* Geometry, in SVG user units. */
#define W 880.0
#define H 330.0
#define ML 72.0   /* left: tick labels and the y label */
#define MR 16.0
#define MT 58.0   /* top: the title and the legend */
#define MB 78.0   /* bottom: category labels (turned) and the x label */

/* Colours a reader with common colour blindness still tells apart (Okabe and Ito). */
static const char *const palette[] = {
	"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
	"#999999", "#000000", "#8C564B", "#1F77B4", "#FF7F0E", "#2CA02C", "#9467BD",
	"#17BECF", "#BCBD22",
};
#define MARK_COLOUR "#C0392B"

void
saksi_html_escape(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		switch (ch) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default:
			if ((ch < 0x20 && ch != '\t' && ch != '\n') || ch == 0x7f)
				fputs("\xef\xbf\xbd", out);
			else
				fputc(ch, out);
		}
	}
}

/* A tick step of 1, 2 or 5 times a power of ten giving about five ticks up to max. */
static double
nice_step(double max)
{
	double raw = max / 5.0, p, f;

	if (raw <= 0)
		return 1.0;
	p = pow(10.0, floor(log10(raw)));
	f = raw / p;
	if (f <= 1.0)
		return p;
	if (f <= 2.0)
		return 2.0 * p;
	if (f <= 5.0)
		return 5.0 * p;
	return 10.0 * p;
}

/* A number as a person writes it: no exponent, no needless decimals. */
static void
num(FILE *out, double v)
{
	if (v == floor(v) && fabs(v) < 1e15)
		fprintf(out, "%.0f", v);
	else if (fabs(v) >= 10)
		fprintf(out, "%.1f", v);
	else
		fprintf(out, "%.2f", v);
}

static int
valid_id(const char *id)
{
	size_t n = strlen(id);

	return n >= 1 && n <= SAKSI_CHART_ID_MAX &&
	    strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static void
legend_item(FILE *out, double *x, const char *colour, const char *label)
{
	fprintf(out, "<g class=\"legend-item\"><rect x=\"%.1f\" y=\"34\" width=\"12\" "
	    "height=\"12\" fill=\"%s\"/><text x=\"%.1f\" y=\"44\" font-size=\"12\">", *x,
	    colour, *x + 16);
	saksi_html_escape(out, label);
	fputs("</text></g>", out);
	/* An estimate of the text's width: the legend has no layout engine to ask. */
	*x += 16 + 7.0 * (double)strlen(label) + 18;
}

saksi_err
saksi_chart_bars(FILE *out, const saksi_chart *c)
{
	double max = 0, step, top, pw = W - ML - MR, ph = H - MT - MB, band, bw, x;
	size_t ncat, nser, every;
	int marked = 0;

	if (out == NULL || c == NULL || c->ch_id == NULL || c->ch_title == NULL ||
	    c->ch_desc == NULL || c->ch_xlabel == NULL || c->ch_ylabel == NULL ||
	    c->ch_cats == NULL || c->ch_series == NULL || c->ch_values == NULL ||
	    !valid_id(c->ch_id))
		return SAKSI_ERR_INVAL;
	ncat = c->ch_ncats;
	nser = c->ch_nseries;
	if (ncat == 0 || ncat > SAKSI_CHART_CATS_MAX || nser == 0 ||
	    nser > SAKSI_CHART_SERIES_MAX)
		return SAKSI_ERR_INVAL;
	for (size_t i = 0; i < ncat; i++) {
		double sum = 0;

		if (c->ch_cats[i] == NULL)
			return SAKSI_ERR_INVAL;
		for (size_t s = 0; s < nser; s++) {
			double v = c->ch_values[i * nser + s];

			if (!isfinite(v) || v < 0)
				return SAKSI_ERR_INVAL;
			sum = c->ch_stacked ? sum + v : (v > sum ? v : sum);
		}
		if (sum > max)
			max = sum;
		if (c->ch_mark != NULL && c->ch_mark[i])
			marked = 1;
	}
	for (size_t s = 0; s < nser; s++)
		if (c->ch_series[s] == NULL)
			return SAKSI_ERR_INVAL;
	if (marked && c->ch_mark_label == NULL)
		return SAKSI_ERR_INVAL;
	step = nice_step(max);
	top = max > 0 ? ceil(max / step) * step : step * 5;

	fprintf(out, "<svg class=\"chart\" id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" "
	    "role=\"img\" aria-labelledby=\"%s-title %s-desc\" viewBox=\"0 0 %.0f %.0f\" "
	    "width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\">\n", c->ch_id,
	    c->ch_id, c->ch_id, W, H, W, H);
	fprintf(out, "<title id=\"%s-title\">", c->ch_id);
	saksi_html_escape(out, c->ch_title);
	fprintf(out, "</title>\n<desc id=\"%s-desc\">", c->ch_id);
	saksi_html_escape(out, c->ch_desc);
	fputs("</desc>\n<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n",
	    out);
	fputs("<text class=\"chart-title\" x=\"8\" y=\"20\" font-size=\"15\" "
	    "font-weight=\"bold\">", out);
	saksi_html_escape(out, c->ch_title);
	fputs("</text>\n", out);

	/* The legend: the series, then the highlight. */
	if (nser > 1 || marked) {
		x = ML;
		fputs("<g class=\"legend\">", out);
		for (size_t s = 0; nser > 1 && s < nser; s++)
			legend_item(out, &x, palette[s], c->ch_series[s]);
		if (marked)
			legend_item(out, &x, MARK_COLOUR, c->ch_mark_label);
		fputs("</g>\n", out);
	}

	/* The y axis: gridlines and ticks from 0 to top. */
	fputs("<g class=\"axis y-axis\" font-size=\"11\">", out);
	for (double t = 0; t <= top + step / 2; t += step) {
		double y = MT + ph - ph * t / top;

		fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
		    "stroke=\"#dddddd\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", ML,
		    W - MR, y, y, ML - 6, y + 4);
		num(out, t);
		fputs("</text>", out);
	}
	fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>",
	    ML, ML, MT, MT + ph);
	fprintf(out, "<text class=\"axis-label\" transform=\"translate(16 %.1f) rotate(-90)\" "
	    "text-anchor=\"middle\" font-size=\"12\">", MT + ph / 2);
	saksi_html_escape(out, c->ch_ylabel);
	fputs("</text></g>\n", out);

	/* The bars. */
	band = pw / (double)ncat;
	bw = band * 0.8;
	fputs("<g class=\"bars\">\n", out);
	for (size_t i = 0; i < ncat; i++) {
		int mk = c->ch_mark != NULL && c->ch_mark[i];
		double base = MT + ph, x0 = ML + band * (double)i + (band - bw) / 2;

		fprintf(out, "<g class=\"%s\" data-cat=\"", mk ? "bar tail" : "bar");
		saksi_html_escape(out, c->ch_cats[i]);
		fputs("\">", out);
		for (size_t s = 0; s < nser; s++) {
			double v = c->ch_values[i * nser + s], h = ph * v / top;
			double sx = c->ch_stacked ? x0 : x0 + bw * (double)s / (double)nser;
			double sw = c->ch_stacked ? bw : bw / (double)nser;

			if (v <= 0)
				continue;
			fprintf(out, "<rect class=\"seg\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
			    "height=\"%.2f\" fill=\"%s\"><title>", sx, base - h, sw, h,
			    mk ? MARK_COLOUR : palette[s]);
			saksi_html_escape(out, c->ch_cats[i]);
			if (nser > 1) {
				fputs(", ", out);
				saksi_html_escape(out, c->ch_series[s]);
			}
			fputs(": ", out);
			num(out, v);
			fputs("</title></rect>", out);
			if (c->ch_stacked)
				base -= h;
		}
		fputs("</g>\n", out);
	}
	fputs("</g>\n", out);

	/* The x axis: a label every few categories, so that they do not overlap. */
	every = (size_t)ceil((double)ncat / 40.0);
	fprintf(out, "<g class=\"axis x-axis\" font-size=\"11\"><line x1=\"%.1f\" x2=\"%.1f\" "
	    "y1=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>", ML, W - MR, MT + ph, MT + ph);
	for (size_t i = 0; i < ncat; i += every) {
		double cx = ML + band * ((double)i + 0.5);

		fprintf(out, "<text transform=\"translate(%.1f %.1f) rotate(-40)\" "
		    "text-anchor=\"end\">", cx + 3, MT + ph + 14);
		saksi_html_escape(out, c->ch_cats[i]);
		fputs("</text>", out);
	}
	fprintf(out, "<text class=\"axis-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
	    "font-size=\"12\">", ML + pw / 2, H - 8);
	saksi_html_escape(out, c->ch_xlabel);
	fputs("</text></g>\n</svg>\n", out);
	return ferror(out) ? SAKSI_ERR_IO : SAKSI_OK;
}
