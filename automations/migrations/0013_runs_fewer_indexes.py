"""Two indexes of the runs table that another one already covers: one_run_per_occurrence
(chrono, scheduled_for, trigger) serves every lookup by chrono, newest first by a backward
scan. Each index cost beat's burst INSERT and every run's status writes."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('automations', '0012_campaign_target'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='chronorun',
            name='run_chrono_newest',
        ),
        # Only the index: AlterField would also drop and re-add the foreign key, which checks
        # every row of a table of millions under an exclusive lock.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='chronorun',
                    name='chrono',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name='runs', to='automations.chrono', verbose_name='chrono'),
                ),
            ],
            database_operations=[
                migrations.RunSQL('DROP INDEX IF EXISTS "automations_chronorun_chrono_id_671fad61"',
                                  reverse_sql='CREATE INDEX "automations_chronorun_chrono_id_671fad61" '
                                              'ON "automations_chronorun" ("chrono_id")'),
            ],
        ),
    ]
