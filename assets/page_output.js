/* Customer Intelligence: what leaves a page, made in the browser (nothing is sent anywhere).
 *
 * - The modebar's camera button saves a PNG named after the chart's title and the filter state, with the
 *   title and the filter line drawn above the chart (Plotly's own button names every file "newplot.png"
 *   and draws no title: the card header holds it).
 * - The "Print / PDF" button opens the browser's own print dialog; the print stylesheet in app.css lays
 *   the page out for A4 landscape.
 */
(function () {
  "use strict";

  var TITLE_SPACE = 64; // pixels added above the chart for the title and the filter line

  function slug(text) {
    return (text || "chart").normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
      .replace(/[^A-Za-z0-9]+/g, "-").replace(/^-+|-+$/g, "").toLowerCase().slice(0, 80) || "chart";
  }

  function textOf(id) {
    var node = document.getElementById(id);
    return node ? node.textContent.trim() : "";
  }

  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  /** "Revenue by month" + "2024-01-01_2024-12-31_All" -> "revenue-by-month_2024-01-01_2024-12-31_All.png" */
  function imageName(title) {
    var stem = textOf("filter-stem");
    return slug(title) + (stem ? "_" + stem : "") + ".png";
  }

  function saveImage(gd, title) {
    var full = gd._fullLayout || {};
    var width = full.width || gd.clientWidth || 800;
    var height = (full.height || gd.clientHeight || 400) + TITLE_SPACE;
    var margin = Object.assign({}, full.margin || {});
    margin.t = (margin.t || 0) + TITLE_SPACE;
    var layout = Object.assign({}, gd.layout, {
      width: width, height: height, margin: margin,
      title: {text: "<b>" + escapeHtml(title) + "</b><br><span style='font-size:12px'>" +
        escapeHtml(textOf("filter-line")) + "</span>", x: 0.01, xanchor: "left", y: 0.98, yanchor: "top"},
    });
    window.Plotly.toImage({data: gd.data, layout: layout}, {format: "png", width: width, height: height, scale: 2})
      .then(function (url) {
        var link = document.createElement("a");
        link.href = url;
        link.download = imageName(title);
        document.body.appendChild(link);
        link.click();
        link.remove();
      });
  }

  function plots() {
    return Array.prototype.slice.call(document.querySelectorAll(".js-plotly-plot"));
  }

  function redraw() {
    if (!window.Plotly) {
      return Promise.resolve();
    }
    return Promise.all(plots().map(function (gd) { return window.Plotly.Plots.resize(gd); }));
  }

  /** The grid APIs of the page's tables (dash-ag-grid), with the element that holds each grid's height. */
  function grids() {
    if (!window.dash_ag_grid || !window.dash_ag_grid.getApi) {
      return [];
    }
    return Array.prototype.slice.call(document.querySelectorAll(".ag-root-wrapper")).map(function (root) {
      var holder = root.parentElement && root.parentElement.closest("[id]");
      var api = null;
      try {
        api = holder ? window.dash_ag_grid.getApi(holder.id) : null;
      } catch (err) {
        api = null;
      }
      return api ? {api: api, holder: holder} : null;
    }).filter(Boolean);
  }

  /** A printed table longer than this shows its first rows and says so (an audience list would fill dozens
   *  of pages; the export has every row). Also a page size offered by the grids (components/tables.py). */
  var PRINT_ROWS = 25;

  /** The caption of a grid's table ("1,234 rows", "Top 500 of 8,212; the export has all"). */
  function captionOf(grid) {
    var table = grid.holder.closest(".data-table");
    return table ? table.querySelector(".table-caption") : null;
  }

  /** Every row of a short table, the first PRINT_ROWS of a long one with "Top N of M; the export has all";
   *  no paginator. */
  function printTables() {
    grids().forEach(function (grid) {
      grid.holder.dataset.screenHeight = grid.holder.style.height;
      grid.holder.style.height = "auto";
      grid.api.setGridOption("domLayout", "print");
      var rows = grid.api.getDisplayedRowCount();
      var caption = captionOf(grid);
      if (rows <= PRINT_ROWS) {
        grid.api.setGridOption("pagination", false);
        return;
      }
      grid.holder.dataset.screenPageSize = grid.api.getGridOption("paginationPageSize");
      grid.api.setGridOption("paginationPageSize", PRINT_ROWS);
      grid.api.paginationGoToFirstPage();
      if (caption) {
        var text = caption.textContent || "";
        var total = (text.match(/of ([\d,]+)/) || text.match(/^([\d,]+) row/) || [null, rows.toLocaleString("en-US")])[1];
        caption.dataset.screenText = text;
        caption.textContent = "Top " + PRINT_ROWS + " of " + total + "; the export has all";
      }
    });
  }

  function pagedTables() {
    grids().forEach(function (grid) {
      if (grid.holder.dataset.screenHeight === undefined) {
        return;
      }
      grid.api.setGridOption("domLayout", "normal");
      grid.api.setGridOption("pagination", true);
      if (grid.holder.dataset.screenPageSize !== undefined) {
        grid.api.setGridOption("paginationPageSize", Number(grid.holder.dataset.screenPageSize));
        delete grid.holder.dataset.screenPageSize;
      }
      var caption = captionOf(grid);
      if (caption && caption.dataset.screenText !== undefined) {
        caption.textContent = caption.dataset.screenText;
        delete caption.dataset.screenText;
      }
      grid.holder.style.height = grid.holder.dataset.screenHeight;
      delete grid.holder.dataset.screenHeight;
    });
  }

  /** Lay the page out at the width of an A4 landscape page: charts redrawn at that width, tables whole or capped. */
  function prepare() {
    if (!document.body.classList.contains("print-layout")) {
      document.body.classList.add("print-layout");
      printTables();
    }
    return redraw();
  }

  function restore() {
    if (document.body.classList.contains("print-layout")) {
      document.body.classList.remove("print-layout");
      pagedTables();
      redraw();
    }
  }

  window.custintelPrint = {prepare: prepare, restore: restore};
  window.addEventListener("beforeprint", prepare);  // Ctrl+P as well as the button
  window.addEventListener("afterprint", restore);

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target || !target.closest) {
      return;
    }
    if (target.closest("#print-button")) {
      prepare().then(function () { window.print(); });
      return;
    }
    var button = target.closest(".modebar-btn");
    if (!button || !/^download plot/i.test(button.getAttribute("data-title") || "")) {
      return;
    }
    var gd = button.closest(".js-plotly-plot");
    if (!gd || !window.Plotly) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    var card = gd.closest(".chart-frame");
    var heading = card && card.querySelector(".chart-title");
    saveImage(gd, heading ? heading.textContent.trim() : document.title);
  }, true);
})();
